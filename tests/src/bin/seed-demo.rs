//! Seeds the demo company through the public API, as an integrator would:
//! territories, groups and channels one by one, customers and products by
//! bulk import; then a sales organisation and half a year of business so
//! the dashboard opens on figures — sales people in a manager hierarchy,
//! teams per territory, commission plans and monthly targets, an approval
//! policy, quotations in every status, orders on all four channels (some
//! fulfilled, some late, one waiting for the admin's approval).
//! Deterministic: the same data on every machine.
//!
//! `seed-demo --base-url http://127.0.0.1:3000 --api-key sk_… [--database PATH]
//! [--director-key-file PATH]`
//!
//! The large field order waits for the sales director, Helena Brandt, who
//! has a manager key of her own (printed, and written to
//! `--director-key-file`): sign in to the dashboard with it to see her
//! approval inbox.
//!
//! The API dates every document by the server's clock, so everything it
//! creates is dated today. With `--database` (the runner's SQLite file,
//! which `scripts/up` passes) the demo's orders, their lines' promised
//! dates, shipments and quotations are then moved back in time — each by
//! its own number of days, up to about six months — the analytics rollups
//! are rebuilt through `POST /api/v1/analytics/rollups/rebuild` and
//! quotations past their validity expired through
//! `POST /api/v1/quotations/expire`. The commission ledger is append-only
//! and keeps the day it was earned on (today); a later recalculation takes
//! these orders by their new dates and leaves what they booked alone (it
//! reverses only what is no longer credited).

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
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
                None => format!("{path}{sep}limit=200"),
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
    let (mut base, mut key, mut database, mut director_key_file) = (None, None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--base-url" => base = args.next(),
            "--api-key" => key = args.next(),
            "--database" => database = args.next(),
            "--director-key-file" => director_key_file = args.next(),
            other => {
                bail!("unknown argument {other}; usage: seed-demo --base-url URL --api-key KEY [--database PATH] [--director-key-file PATH]")
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
    business::run(
        &api,
        &channel_ids,
        database.as_deref(),
        director_key_file.as_deref(),
    )
    .await
}

/// Half a year of business on top of the demo company (see the crate docs).
mod business {
    use std::collections::HashMap;
    use std::time::Duration;

    use anyhow::{bail, Context, Result};
    use chrono::{Datelike, Days, Months, NaiveDate, Utc};
    use sales_e2e::json;
    use serde_json::Value;

    use super::Api;

    fn id(v: &Value) -> Result<String> {
        v["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no id in {v}"))
    }

    /// How many days before today the `k`-th document of a kind is dated:
    /// a quarter in the last four weeks (what the dashboard opens on), the
    /// rest spread over six months.
    fn days_ago(k: usize) -> u64 {
        if k.is_multiple_of(4) {
            ((k / 4 * 11) % 29) as u64
        } else {
            (3 + (k * 37) % 170) as u64
        }
    }

    /// A demo document and how far back it goes.
    struct Dated {
        order: Option<String>,
        quotation: Option<String>,
        /// Days before today of the order (or of the quotation without one).
        days_ago: u64,
        /// Days the quotation was created before its order.
        quote_lead: u64,
        /// Days after the order date it shipped.
        shipped_after: u64,
    }

    struct Catalog {
        commercial: Vec<Value>,
        consumers: Vec<Value>,
        /// Products by SKU prefix (SEN, CTL, MAC, PRT, SVC), in SKU order.
        products: HashMap<String, Vec<String>>,
        /// Products with a few pieces free in the Berlin store, in SKU order.
        in_store: Vec<String>,
    }

    impl Catalog {
        /// Whether `product` is kept in stock (sensors, controllers, parts).
        fn stocked(&self, product: &str) -> bool {
            ["SEN", "CTL", "PRT"].iter().any(|p| {
                self.products
                    .get(*p)
                    .is_some_and(|l| l.iter().any(|x| x == product))
            })
        }

        /// One or two pieces off the Berlin store's shelves.
        fn store_lines(&self, k: usize) -> Value {
            let pick = |i: usize| self.in_store[i % self.in_store.len()].clone();
            let mut lines = vec![json!({ "product_id": pick(k * 3), "quantity": "1" })];
            if k % 2 == 1 {
                lines.push(json!({ "product_id": pick(k * 3 + 1), "quantity": "1" }));
            }
            json!(lines)
        }

        fn product(&self, prefix: &str, n: usize) -> String {
            let list = &self.products[prefix];
            list[n % list.len()].clone()
        }

        /// One to three lines, varied by `n`; a machine on every sixth
        /// when `machines`.
        fn lines(&self, n: usize, machines: bool) -> Value {
            let mut lines = vec![
                json!({ "product_id": self.product("SEN", n * 3), "quantity": (1 + n % 4).to_string() }),
            ];
            if n.is_multiple_of(2) {
                lines.push(json!({ "product_id": self.product("CTL", n), "quantity": (1 + n % 3).to_string() }));
            }
            if n % 3 == 1 {
                lines.push(json!({ "product_id": self.product("PRT", n * 5), "quantity": (2 + n % 5).to_string() }));
            }
            if n % 4 == 3 {
                lines.push(json!({ "product_id": self.product("SVC", n), "quantity": (2 + n % 6).to_string() }));
            }
            if machines && n.is_multiple_of(6) {
                lines.push(json!({ "product_id": self.product("MAC", n), "quantity": "1" }));
            }
            json!(lines)
        }
    }

    async fn catalog(api: &Api) -> Result<Catalog> {
        let mut customers = api.all("/api/v1/customers").await?;
        customers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let (consumers, commercial): (Vec<Value>, Vec<Value>) = customers
            .into_iter()
            .partition(|c| c["name"].as_str().is_some_and(|n| n.ends_with("Household")));
        let mut products: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for p in api.all("/api/v1/products").await? {
            let sku = p["sku"].as_str().unwrap_or_default().to_string();
            let prefix = sku.split('-').next().unwrap_or_default().to_string();
            products.entry(prefix).or_default().push((sku, id(&p)?));
        }
        let products: HashMap<String, Vec<String>> = products
            .into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k, v.into_iter().map(|(_, id)| id).collect())
            })
            .collect();
        let store = api
            .all("/api/v1/warehouses")
            .await?
            .into_iter()
            .find(|w| w["code"] == "STORE-BER")
            .context("no STORE-BER warehouse")?;
        let mut in_store = Vec::new();
        let mut sku_of: Vec<(String, String)> = Vec::new();
        for (prefix, ids) in &products {
            if ["SEN", "CTL", "PRT"].contains(&prefix.as_str()) {
                sku_of.extend(ids.iter().map(|i| (prefix.clone(), i.clone())));
            }
        }
        sku_of.sort();
        let free: HashMap<String, f64> = api
            .all(&format!("/api/v1/stock?warehouse_id={}", id(&store)?))
            .await?
            .iter()
            .map(|p| {
                (
                    p["product_id"].as_str().unwrap_or_default().to_string(),
                    // Only compared with a small count, never money.
                    p["free"]
                        .as_str()
                        .and_then(|f| f.parse().ok())
                        .unwrap_or(0.0),
                )
            })
            .collect();
        for (_, product) in sku_of {
            if free.get(&product).is_some_and(|f| *f >= 4.0) {
                in_store.push(product);
            }
        }
        if commercial.is_empty() || consumers.is_empty() || in_store.is_empty() {
            bail!("the demo company has no customers to sell to or nothing in the store");
        }
        Ok(Catalog {
            commercial,
            consumers,
            products,
            in_store,
        })
    }

    async fn organisation(api: &Api, today: NaiveDate, director: &str) -> Result<()> {
        let territories: HashMap<String, String> = api
            .all("/api/v1/territories")
            .await?
            .iter()
            .map(|t| Ok((t["code"].as_str().unwrap_or_default().to_string(), id(t)?)))
            .collect::<Result<_>>()?;
        let mut people = HashMap::new();
        for (key, name, manager) in [
            ("helena", "Helena Brandt", None),
            ("marc", "Marc Dubois", Some("helena")),
            ("sophie", "Sophie Weber", Some("marc")),
            ("luc", "Luc Martin", Some("marc")),
            ("amy", "Amy Carter", Some("helena")),
            ("kenji", "Kenji Sato", Some("helena")),
        ] {
            let manager: Option<&String> = manager.and_then(|m| people.get(m));
            let email = format!("{}@demo.example.com", name.to_lowercase().replace(' ', "."));
            let principal = (key == "helena").then_some(director);
            let p = api
                .post(
                    "/api/v1/sales-people",
                    json!({ "name": name, "email": email, "manager_id": manager,
                            "principal_id": principal }),
                )
                .await?;
            people.insert(key, id(&p)?);
        }
        let person = |k: &str| people[k].clone();
        for (code, name, territory, members) in [
            ("DACH", "DACH", "DE", vec![("sophie", "80"), ("marc", "20")]),
            ("WEST-EU", "Western Europe", "EUROPE", vec![("luc", "100")]),
            ("NA", "North America", "NORTH-AMERICA", vec![("amy", "100")]),
            ("APAC", "Asia Pacific", "APAC", vec![("kenji", "100")]),
        ] {
            let members: Vec<Value> = members
                .iter()
                .map(|(p, pct)| json!({ "sales_person_id": person(p), "percentage": pct }))
                .collect();
            let territory = territories
                .get(territory)
                .with_context(|| format!("no territory {territory}"))?;
            api.post(
                "/api/v1/teams",
                json!({ "code": code, "name": name, "territory_id": territory, "members": members }),
            )
            .await?;
        }
        let year_ago = (today - Days::new(365)).with_day(1).unwrap_or(today);
        // Plans for everybody (the managers earn an override on their
        // share); monthly targets for the reps.
        for (p, rate, monthly) in [
            ("sophie", "5", Some("3000")),
            ("luc", "5", Some("9000")),
            ("amy", "5", Some("4000")),
            ("kenji", "5", Some("2500")),
            ("marc", "2", None),
            ("helena", "1", None),
        ] {
            api.post(
                "/api/v1/commission-plans",
                json!({ "name": format!("{p} {}", today.year()),
                        "beneficiary": { "kind": "sales_person", "id": person(p) },
                        "currency": "EUR", "effective_from": year_ago.to_string(),
                        "default_rate": rate }),
            )
            .await?;
            // A target for this month and each of the six before.
            let Some(monthly) = monthly else { continue };
            let this_month = today.with_day(1).unwrap_or(today);
            for back in 0..7 {
                let start = this_month
                    .checked_sub_months(Months::new(back))
                    .unwrap_or(this_month);
                api.post(
                    "/api/v1/targets",
                    json!({ "subject": { "kind": "sales_person", "id": person(p) },
                            "period": "month", "period_start": start.to_string(),
                            "amount": monthly, "currency": "EUR" }),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn submit(api: &Api, order: &str) -> Result<Value> {
        api.post(&format!("/api/v1/orders/{order}/submit"), json!({}))
            .await
    }

    /// Ships the stocked lines of a confirmed order in full (machines are
    /// built by work orders and services delivered by projects, so an
    /// order with them is left partially fulfilled). Whether it shipped.
    async fn fulfil(api: &Api, cat: &Catalog, order: &Value) -> Result<bool> {
        if order["status"] != "confirmed" {
            return Ok(false);
        }
        let lines: Vec<Value> = order["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|l| l["product_id"].as_str().is_some_and(|p| cat.stocked(p)))
            .map(|l| json!({ "line_id": l["id"], "quantity": l["quantity"] }))
            .collect();
        if lines.is_empty() {
            return Ok(false);
        }
        api.post(
            &format!("/api/v1/orders/{}/fulfil", id(order)?),
            json!({ "lines": lines, "external_source": "wms",
                    "external_id": format!("DEMO-DN-{}", order["number"].as_str().unwrap_or_default()) }),
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn run(
        api: &Api,
        channels: &HashMap<String, String>,
        database: Option<&str>,
        director_key_file: Option<&str>,
    ) -> Result<()> {
        let today = Utc::now().date_naive();
        // The sales director signs in with a manager key of her own: she
        // approves large field orders (an approver must be a stored
        // principal, and nobody approves what they submitted).
        let created = api
            .post(
                "/api/v1/api-keys",
                json!({ "name": "Helena Brandt (sales director)", "roles": ["manager"] }),
            )
            .await?;
        let director_key = created["key"]
            .as_str()
            .context("a created key has no key")?
            .to_string();
        let director = Api {
            base: api.base.clone(),
            key: director_key.clone(),
            client: api.client.clone(),
        };
        let director_id = id(&director.get("/api/v1/me").await?)?;
        organisation(api, today, &director_id).await?;
        let field = channels.get("FIELD").context("no FIELD channel")?;
        api.post(
            "/api/v1/approval-policies",
            json!({ "name": "Large field order", "applies_to": ["order"],
                    "condition": { "type": "all", "all": [
                        { "type": "channels", "codes": ["FIELD"] },
                        { "type": "total_amount", "limits": { "EUR": { "over": "5000" } } } ] },
                    "chain": { "levels": [{ "name": "Sales director",
                        "approvers": [{ "type": "principal", "id": director_id }],
                        "mode": { "type": "any_one" } }] } }),
        )
        .await?;
        let cat = catalog(api).await?;
        let mut dated: Vec<Dated> = Vec::new();
        let mut statuses: HashMap<String, usize> = HashMap::new();

        // Quotations on B2B (quotation first there) to commercial customers.
        let outcomes = [
            "ordered",
            "ordered",
            "lost",
            "sent",
            "ordered",
            "accepted",
            "ordered",
            "draft",
            "ordered",
            "lost",
            "ordered",
            "sent",
            "ordered",
            "accepted",
            "ordered",
            "lost",
            "ordered",
            "cancelled",
            "sent",
            "ordered",
            "ordered",
            "lost",
            "sent",
            "ordered",
            "accepted",
            "draft",
            "ordered",
            "sent",
            "ordered",
            "lost",
            "ordered",
            "sent",
            "accepted",
            "draft",
            "cancelled",
            "ordered",
        ];
        let reasons = [
            ("price", Some("Rival GmbH")),
            ("lead time", None),
            ("competitor", Some("Acme Industrial")),
            ("no budget", None),
            ("price", Some("Acme Industrial")),
            ("lead time", Some("Rival GmbH")),
        ];
        let mut lost = 0;
        for (n, outcome) in outcomes.iter().enumerate() {
            let customer = &cat.commercial[(n * 7) % cat.commercial.len()];
            let q = api
                .post(
                    "/api/v1/quotations",
                    json!({ "customer_id": customer["id"], "channel_code": "B2B",
                            "lines": cat.lines(n, true) }),
                )
                .await?;
            let qid = id(&q)?;
            let action = |a: &str| format!("/api/v1/quotations/{qid}/{a}");
            // Offset so that every outcome has quotations in the last weeks.
            let d = days_ago(n + 2);
            let mut entry = Dated {
                order: None,
                quotation: Some(qid.clone()),
                days_ago: d,
                quote_lead: 0,
                shipped_after: 0,
            };
            match *outcome {
                "draft" => {}
                "cancelled" => {
                    api.post(&action("cancel"), json!({})).await?;
                }
                _ => {
                    api.post(&action("send"), json!({})).await?;
                }
            }
            match *outcome {
                "accepted" => {
                    api.post(&action("accept"), json!({})).await?;
                }
                "lost" => {
                    let (reason, competitor) = reasons[lost % reasons.len()];
                    lost += 1;
                    api.post(
                        &action("lose"),
                        json!({ "reason": reason, "competitor": competitor }),
                    )
                    .await?;
                }
                "ordered" => {
                    let converted = api.post(&action("convert"), json!({})).await?;
                    let order = id(&converted["order"])?;
                    let mut submitted = submit(api, &order).await?;
                    entry.quote_lead = 2 + (n as u64 % 9);
                    // Most older orders shipped; every fifth is left late.
                    if d > 12 && n % 5 != 0 && fulfil(api, &cat, &submitted).await? {
                        entry.shipped_after = 3 + (n as u64 % 6);
                        submitted = api.get(&format!("/api/v1/orders/{order}")).await?;
                    }
                    entry.order = Some(order);
                    let status = submitted["status"].as_str().unwrap_or("?").to_string();
                    *statuses.entry(format!("B2B {status}")).or_default() += 1;
                }
                _ => {}
            }
            dated.push(entry);
        }

        // Direct orders: the web shop and the store to consumers, the field
        // team to commercial customers.
        for (channel, count, consumers) in
            [("WEB", 14, true), ("RETAIL", 8, true), ("FIELD", 12, false)]
        {
            let channel_id = channels
                .get(channel)
                .with_context(|| format!("no {channel} channel"))?;
            for k in 0..count {
                let n = k + 100 * (channel.len());
                let customer = if consumers {
                    &cat.consumers[(k * 3) % cat.consumers.len()]
                } else {
                    &cat.commercial[(k * 5 + 2) % cat.commercial.len()]
                };
                let order = api
                    .post(
                        "/api/v1/orders",
                        json!({ "customer_id": customer["id"], "channel_id": channel_id,
                                "lines": if channel == "RETAIL" { cat.store_lines(k) } else { cat.lines(n, false) } }),
                    )
                    .await?;
                let oid = id(&order)?;
                let mut submitted = submit(api, &oid).await?;
                let d = days_ago(k + 1);
                let mut shipped_after = 0;
                let ships = match channel {
                    "WEB" => d > 3,
                    "FIELD" => d > 10 && k % 4 != 1,
                    _ => true,
                };
                // The store hands over on the spot (fulfilled at submission).
                if ships && fulfil(api, &cat, &submitted).await? {
                    submitted = api.get(&format!("/api/v1/orders/{oid}")).await?;
                    shipped_after = 2 + (k as u64 % 4);
                }
                let status = submitted["status"].as_str().unwrap_or("?").to_string();
                *statuses.entry(format!("{channel} {status}")).or_default() += 1;
                dated.push(Dated {
                    order: Some(oid),
                    quotation: None,
                    days_ago: d,
                    quote_lead: 0,
                    shipped_after: shipped_after.min(d),
                });
            }
        }

        // A large field order: two machines, over the 5,000 EUR limit,
        // waiting in the admin's approval inbox.
        let big = api
            .post(
                "/api/v1/orders",
                json!({ "customer_id": cat.commercial[4 % cat.commercial.len()]["id"], "channel_id": field,
                        "lines": [{ "product_id": cat.product("MAC", 2), "quantity": "2" },
                                  { "product_id": cat.product("SVC", 1), "quantity": "16" }] }),
            )
            .await?;
        let submitted = submit(api, &id(&big)?).await?;
        let status = submitted["status"].as_str().unwrap_or("?").to_string();
        *statuses.entry(format!("FIELD {status}")).or_default() += 1;
        if status != "pending_approval" {
            eprintln!("seed-demo: the large field order is {status}, not pending_approval");
        }

        let mut summary: Vec<String> = statuses.iter().map(|(k, v)| format!("{v} {k}")).collect();
        summary.sort();
        println!(
            "seeded the demo business: 6 sales people in 4 teams with commission plans, the reps' monthly targets, {} quotations, orders: {}",
            outcomes.len(),
            summary.join(", ")
        );
        if let Some(path) = director_key_file {
            std::fs::write(path, format!("{director_key}\n"))
                .with_context(|| format!("failed to write {path}"))?;
        }
        println!("the sales director's key (her approval inbox): {director_key}");
        match database {
            Some(path) => backdate(api, path, &dated).await,
            None => {
                println!("no --database: every demo document is dated today");
                Ok(())
            }
        }
    }

    /// Waits until the jobs component has handled every event (so what it
    /// books is done before the dates move).
    async fn drained(api: &Api) -> Result<()> {
        for _ in 0..600 {
            let pending = api.get("/api/v1/outbox?status=pending&limit=1").await?;
            if pending["items"].as_array().is_some_and(Vec::is_empty) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the outbox did not drain within a minute")
    }

    /// `date(col, '-n days')` for a date column; a timestamp keeps its time
    /// of day and fixed width.
    fn back_date(col: &str, days: u64) -> String {
        format!("date({col}, '-{days} days')")
    }
    fn back_ts(col: &str, days: u64) -> String {
        format!("date(substr({col}, 1, 10), '-{days} days') || substr({col}, 11)")
    }

    async fn backdate(api: &Api, path: &str, dated: &[Dated]) -> Result<()> {
        drained(api).await?;
        let mut conn =
            rusqlite::Connection::open(path).with_context(|| format!("failed to open {path}"))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let tx = conn.transaction()?;
        for d in dated {
            let n = d.days_ago;
            if let Some(o) = &d.order {
                tx.execute(
                    &format!(
                        "UPDATE sales_orders SET order_date = {}, requested_date = {},
                            submitted_at = {}, created_at = {}, updated_at = {} WHERE id = ?1",
                        back_date("order_date", n),
                        back_date("requested_date", n),
                        back_ts("submitted_at", n),
                        back_ts("created_at", n),
                        back_ts("updated_at", n.saturating_sub(d.shipped_after))
                    ),
                    [o],
                )?;
                tx.execute(
                    &format!(
                        "UPDATE sales_order_lines SET promised_date = {}, requested_date = {}
                         WHERE order_id = ?1",
                        back_date("promised_date", n),
                        back_date("requested_date", n)
                    ),
                    [o],
                )?;
                tx.execute(
                    &format!(
                        "UPDATE sales_order_shipments SET created_at = {} WHERE order_id = ?1",
                        back_ts("created_at", n.saturating_sub(d.shipped_after))
                    ),
                    [o],
                )?;
            }
            if let Some(q) = &d.quotation {
                let created = n + d.quote_lead;
                tx.execute(
                    &format!(
                        "UPDATE quotations SET created_at = {}, updated_at = {},
                            valid_until = {v},
                            body = json_set(body, '$.valid_until', {v}) WHERE id = ?1",
                        back_ts("created_at", created),
                        back_ts("updated_at", n),
                        v = back_date("valid_until", created)
                    ),
                    [q],
                )?;
            }
        }
        tx.commit()?;
        let rebuilt = api
            .post("/api/v1/analytics/rollups/rebuild", json!({}))
            .await?;
        let expired = api.post("/api/v1/quotations/expire", json!({})).await?;
        drained(api).await?;
        println!(
            "dated the demo documents over the last six months; rollups rebuilt ({} orders), {} quotation(s) expired",
            rebuilt["orders"],
            expired["expired"].as_array().map_or(0, Vec::len)
        );
        Ok(())
    }
}
