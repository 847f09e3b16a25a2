//! Seeds the demo company through the public API, as an integrator would:
//! territories, groups and channels one by one, customers and products by
//! bulk import. Deterministic: the same data on every machine.
//!
//! `seed-demo --base-url http://127.0.0.1:3000 --api-key sk_…`

use anyhow::{bail, Context, Result};
use rust_decimal::Decimal;
use sales_e2e::json;
use serde_json::Value;

struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Value> {
        let resp = req
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("failed to {what}"))?;
        let status = resp.status();
        let text = resp.text().await.context("failed to read a response")?;
        if !status.is_success() {
            bail!("failed to {what}: {status} {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("failed to parse the answer to {what}"))
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let req = self.client.post(format!("{}{path}", self.base)).json(&body);
        self.send(req, &format!("POST {path}")).await
    }

    async fn patch(&self, path: &str, version: i64, body: Value) -> Result<Value> {
        let req = self
            .client
            .patch(format!("{}{path}", self.base))
            .header("if-match", format!("\"{version}\""))
            .json(&body);
        self.send(req, &format!("PATCH {path}")).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req, &format!("GET {path}")).await
    }

    async fn import(&self, path: &str, content_type: &str, body: String) -> Result<Value> {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header(
                "idempotency-key",
                format!("seed-demo{}", path.replace('/', "-")),
            )
            .body(body);
        let report = self.send(req, &format!("POST {path}")).await?;
        if report["failed"].as_i64() != Some(0) {
            bail!("the import to {path} reported failures: {report}");
        }
        Ok(report)
    }

    /// Every item of a list, page by page.
    async fn all(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}?limit=200&cursor={c}"),
                None => format!("{path}?limit=200"),
            };
            let page = self.get(&url).await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(items),
            }
        }
    }

    async fn node(
        &self,
        tree: &str,
        code: &str,
        name: &str,
        parent: Option<&str>,
    ) -> Result<String> {
        let body = self
            .post(
                &format!("/api/v1/{tree}"),
                json!({ "code": code, "name": name, "parent_id": parent }),
            )
            .await?;
        body["id"]
            .as_str()
            .map(str::to_string)
            .context("a created node has no id")
    }
}

/// A region's code and name, and its countries' codes and names.
type Region = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const TERRITORIES: &[Region] = &[
    (
        "EUROPE",
        "Europe",
        &[
            ("DE", "Germany"),
            ("FR", "France"),
            ("NL", "Netherlands"),
            ("GB", "United Kingdom"),
            ("ES", "Spain"),
        ],
    ),
    (
        "NORTH-AMERICA",
        "North America",
        &[("US", "United States"), ("CA", "Canada")],
    ),
    (
        "APAC",
        "Asia Pacific",
        &[("AU", "Australia"), ("JP", "Japan")],
    ),
];

const CUSTOMER_GROUPS: &[(&str, &str, Option<&str>)] = &[
    ("COMMERCIAL", "Commercial", None),
    ("WHOLESALE", "Wholesale", Some("COMMERCIAL")),
    ("INSTALLERS", "Installers", Some("COMMERCIAL")),
    ("PUBLIC", "Public sector", None),
    ("CONSUMERS", "Consumers", None),
];

/// (code, name, parent, kind, sku prefix, uom, count, base cost)
type ItemGroupSeed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    usize,
    i64,
);

const ITEM_GROUPS: &[ItemGroupSeed] = &[
    ("ALL", "All products", None, "", "", "", 0, 0),
    (
        "SENSORS",
        "Sensors",
        Some("ALL"),
        "stocked",
        "SEN",
        "unit",
        50,
        18,
    ),
    (
        "CONTROLLERS",
        "Controllers",
        Some("ALL"),
        "stocked",
        "CTL",
        "unit",
        40,
        85,
    ),
    (
        "MACHINES",
        "Machines",
        Some("ALL"),
        "manufactured",
        "MAC",
        "unit",
        30,
        2400,
    ),
    (
        "PARTS",
        "Spare parts",
        Some("ALL"),
        "stocked",
        "PRT",
        "unit",
        50,
        4,
    ),
    (
        "SERVICES",
        "Services",
        Some("ALL"),
        "service",
        "SVC",
        "hour",
        30,
        55,
    ),
];

const ADJECTIVES: &[&str] = &[
    "Northern", "Blue", "Alpine", "Harbor", "Granite", "Summit", "Silver", "Eastern", "Pioneer",
    "Cedar",
];
const NOUNS: &[&str] = &["Logistics", "Foods", "Energy", "Works", "Robotics"];
/// A city per country of [`TERRITORIES`], in the same order.
const CITIES: &[&str] = &[
    "Berlin", "Lyon", "Utrecht", "Leeds", "Valencia", "Denver", "Toronto", "Perth", "Osaka",
];
const MODELS: &[&str] = &[
    "Pro", "Lite", "Max", "S", "X", "Plus", "Mini", "HD", "Eco", "Neo",
];

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut base, mut key) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => base = args.next(),
            "--api-key" => key = args.next(),
            other => {
                bail!("unknown argument {other}; usage: seed-demo --base-url URL --api-key KEY")
            }
        }
    }
    let api = Api {
        base: base
            .context("--base-url is required")?
            .trim_end_matches('/')
            .to_string(),
        key: key.context("--api-key is required")?,
        client: reqwest::Client::new(),
    };

    let existing = api.get("/api/v1/channels?code=B2B").await?;
    if existing["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty())
    {
        println!("the demo company is already there");
        return Ok(());
    }

    for (code, name, countries) in TERRITORIES {
        let region = api.node("territories", code, name, None).await?;
        for (c, n) in *countries {
            api.node("territories", c, n, Some(&region)).await?;
        }
    }
    let mut group_ids = std::collections::HashMap::new();
    for (code, name, parent) in CUSTOMER_GROUPS {
        let parent = parent.and_then(|p| group_ids.get(p).cloned());
        let id = api
            .node("customer-groups", code, name, parent.as_deref())
            .await?;
        group_ids.insert(*code, id);
    }
    let mut item_group_ids = std::collections::HashMap::new();
    for (code, name, parent, ..) in ITEM_GROUPS {
        let parent = parent.and_then(|p| item_group_ids.get(p).cloned());
        let id = api
            .node("item-groups", code, name, parent.as_deref())
            .await?;
        item_group_ids.insert(*code, id);
    }

    let net30 = json!({ "name": "Net 30", "days": 30 });
    let channels = [
        json!({ "code": "B2B", "name": "B2B direct", "kind": "b2b", "mode": "offline", "currency": "EUR",
                "tax_mode": "exclusive", "warehouses": ["MAIN", "SOUTH"], "quotation_required": true,
                "payment_terms": net30, "credit_check": "block" }),
        json!({ "code": "WEB", "name": "B2C web shop", "kind": "b2c", "mode": "online", "currency": "EUR",
                "tax_mode": "inclusive", "warehouses": ["MAIN"], "paid_on_order": true, "credit_check": "off" }),
        json!({ "code": "RETAIL", "name": "Retail store Berlin", "kind": "b2c", "mode": "offline", "currency": "EUR",
                "tax_mode": "inclusive", "warehouses": ["STORE-BER"], "paid_on_order": true, "fulfil_on_order": true,
                "credit_check": "off" }),
        json!({ "code": "FIELD", "name": "Phone and field sales", "kind": "b2b", "mode": "offline", "currency": "EUR",
                "tax_mode": "exclusive", "warehouses": ["MAIN", "SOUTH"], "quotation_required": false,
                "payment_terms": net30 }),
    ];
    let mut channel_ids = std::collections::HashMap::new();
    for channel in channels {
        let code = channel["code"].as_str().unwrap_or_default().to_string();
        let created = api.post("/api/v1/channels", channel).await?;
        channel_ids.insert(code, created["id"].as_str().unwrap_or_default().to_string());
    }
    let settings = api.get("/api/v1/settings").await?;
    let version = settings["version"]
        .as_i64()
        .context("settings have no version")?;
    api.patch(
        "/api/v1/settings",
        version,
        json!({ "default_channel": "B2B", "quotation_validity_days": 30, "credit_check": "block",
                "channel_defaults": { "FIELD": { "quotation_validity_days": 14 } } }),
    )
    .await?;

    // 50 customers from "the CRM", as NDJSON.
    let countries: Vec<&str> = TERRITORIES
        .iter()
        .flat_map(|(_, _, cs)| cs.iter().map(|(c, _)| *c))
        .collect();
    let groups = [
        "WHOLESALE",
        "INSTALLERS",
        "PUBLIC",
        "CONSUMERS",
        "COMMERCIAL",
    ];
    let mut ndjson = String::new();
    for i in 0..50usize {
        let country = countries[i % countries.len()];
        let group = groups[i % groups.len()];
        let name = format!(
            "{} {} {}",
            ADJECTIVES[i % ADJECTIVES.len()],
            NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()],
            if group == "CONSUMERS" {
                "Household"
            } else {
                "GmbH"
            }
        );
        let limit = if group == "CONSUMERS" {
            0
        } else {
            10_000 * (1 + (i as i64 % 5))
        };
        let row = json!({
            "external_source": "crm", "external_id": format!("CRM-{:04}", i + 1), "name": name,
            "email": format!("buyer{}@example.com", i + 1), "customer_group_code": group,
            "territory_code": country, "credit_limit": limit.to_string(), "currency": "EUR",
            "payment_terms_days": if group == "CONSUMERS" { 0 } else { 30 },
            "address_line1": format!("{} Street {}", NOUNS[i % NOUNS.len()], i + 1),
            "city": CITIES[i % countries.len()],
            "country": country,
        });
        ndjson.push_str(&row.to_string());
        ndjson.push('\n');
    }
    api.import("/api/v1/imports/customers", "application/x-ndjson", ndjson)
        .await?;

    // 200 products from "the inventory system", as CSV.
    let mut csv = String::from("external_source,external_id,sku,name,item_group_code,uom,kind,standard_cost,currency,lead_time_days\n");
    for (code, name, _, kind, prefix, uom, count, cost) in ITEM_GROUPS {
        for n in 0..*count {
            let sku = format!("{prefix}-{:03}", n + 1);
            let model = MODELS[n % MODELS.len()];
            let cost = cost + (n as i64 % 7) * cost / 10;
            let lead = match *kind {
                "manufactured" => 20 + n % 10,
                "service" => 0,
                _ => 2 + n % 5,
            };
            csv.push_str(&format!(
                "erp,ERP-{sku},{sku},{} {model} {},{code},{uom},{kind},{cost}.00,EUR,{lead}\n",
                name.trim_end_matches('s'),
                n + 1
            ));
        }
    }
    api.import("/api/v1/imports/products", "text/csv", csv)
        .await?;

    // Prices: a general EUR list at cost × 1.6 (services × 1.5), the
    // wholesale group's list derived from it at −10 %, and VAT.
    let products = api.all("/api/v1/products").await?;
    let standard = api
        .post(
            "/api/v1/price-lists",
            json!({ "name": "Standard EUR", "currency": "EUR" }),
        )
        .await?;
    let standard_id = standard["id"]
        .as_str()
        .context("a price list has no id")?
        .to_string();
    let items: Vec<Value> = products
        .iter()
        .map(|p| {
            // Money is decimal, never floating point, even in demo data.
            let cost: Decimal = p["standard_cost"]["amount"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or_default();
            let markup = if p["kind"] == "service" {
                Decimal::new(15, 1)
            } else {
                Decimal::new(16, 1)
            };
            let rate = (cost * markup).round_dp(2);
            json!({ "product_id": p["id"], "uom": p["uom"], "rate": rate.to_string() })
        })
        .collect();
    api.post(
        &format!("/api/v1/price-lists/{standard_id}/items"),
        json!({ "items": items }),
    )
    .await?;
    api.post(
        "/api/v1/price-lists",
        json!({ "name": "Wholesale EUR", "currency": "EUR", "customer_group_id": group_ids["WHOLESALE"],
                "base_price_list_id": standard_id, "adjustment_percent": "-10" }),
    )
    .await?;
    let channel = |code: &str| channel_ids.get(code).cloned().unwrap_or_default();
    api.post(
        "/api/v1/tax-templates",
        json!({ "name": "VAT 19 % (net prices)", "mode": "exclusive", "is_default": true,
                "lines": [{ "code": "VAT19", "name": "VAT 19 %", "rate_percent": "19" }],
                "channels": [channel("B2B"), channel("FIELD")] }),
    )
    .await?;
    api.post(
        "/api/v1/tax-templates",
        json!({ "name": "VAT 19 % (gross prices)", "mode": "inclusive",
                "lines": [{ "code": "VAT19", "name": "VAT 19 %", "rate_percent": "19" }],
                "channels": [channel("WEB"), channel("RETAIL")] }),
    )
    .await?;

    // Warehouses and a stock count from "the inventory system".
    for (code, name) in [
        ("MAIN", "Main warehouse Hamburg"),
        ("SOUTH", "South hub Munich"),
        ("STORE-BER", "Store Berlin"),
    ] {
        api.post("/api/v1/warehouses", json!({ "code": code, "name": name }))
            .await?;
    }
    let mut stock = String::new();
    for (i, p) in products
        .iter()
        .filter(|p| p["kind"] == "stocked")
        .enumerate()
    {
        let counts = [
            ("MAIN", 20 + (i * 37) % 180),
            ("SOUTH", (i * 13) % 40),
            ("STORE-BER", (i * 7) % 12),
        ];
        for (warehouse, on_hand) in counts {
            let row = json!({ "external_source": "wms", "external_id": format!("COUNT-1-{warehouse}-{i}"),
                              "product_id": p["id"], "warehouse_code": warehouse, "on_hand": on_hand.to_string() });
            stock.push_str(&row.to_string());
            stock.push('\n');
        }
    }
    api.import("/api/v1/stock/import", "application/x-ndjson", stock)
        .await?;

    let territories: usize = TERRITORIES.iter().map(|(_, _, cs)| 1 + cs.len()).sum();
    let products = products.len();
    println!(
        "seeded the demo company: {territories} territories, {} customer groups, {} item groups, 4 channels, 50 customers, {products} products, 2 price lists, 2 tax templates, 3 warehouses with stock",
        CUSTOMER_GROUPS.len(),
        ITEM_GROUPS.len()
    );
    Ok(())
}
