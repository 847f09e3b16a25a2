//! Versioned schema migrations, applied idempotently on first use.
//!
//! [`MIGRATIONS`] is an append-only list: migration *n* (1-based) moves the
//! database from `PRAGMA user_version = n-1` to `n`. Each migration is a list
//! of single SQL statements, because Spin's `execute` runs exactly one
//! statement per call. Never edit a migration that has shipped; append a new
//! one.
//!
//! [`migrate`] reads `user_version` once and returns when it is current, so
//! calling it on every request costs one PRAGMA. Otherwise it takes the write
//! lock (`BEGIN IMMEDIATE`), reads the version *again* — another process may
//! have migrated while this one waited for the lock — and applies the missing
//! migrations and the new version number in that one transaction. Two
//! processes starting at once therefore migrate exactly once, and a failed
//! migration leaves the schema as it was.
//!
//! Conventions of the schema: ids are UUID v7 text; money is a TEXT decimal
//! column beside a TEXT currency column; timestamps are RFC 3339 UTC text of
//! fixed width (so they sort as text); booleans are 0/1 integers; every
//! mutable row has `version` (optimistic concurrency, starts at 1),
//! `created_at` and `updated_at`, written by the caller (never SQLite's
//! clock). Foreign keys are documented with `REFERENCES` but checked by the
//! repositories, since SQLite enforces them only per connection on request.

use crate::db::{Db, DbError};
use crate::StoreError;

/// Migration 1: the catalog, access, idempotency and document series.
const V1_CATALOG: &[&str] = &[
    // Trees: customer groups, item groups, territories share one shape.
    "CREATE TABLE customer_groups (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id TEXT REFERENCES customer_groups(id),
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX customer_groups_code ON customer_groups (code)",
    "CREATE INDEX customer_groups_parent ON customer_groups (parent_id, id)",
    "CREATE TABLE item_groups (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id TEXT REFERENCES item_groups(id),
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX item_groups_code ON item_groups (code)",
    "CREATE INDEX item_groups_parent ON item_groups (parent_id, id)",
    "CREATE TABLE territories (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        parent_id TEXT REFERENCES territories(id),
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX territories_code ON territories (code)",
    "CREATE INDEX territories_parent ON territories (parent_id, id)",
    "CREATE TABLE customers (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        email TEXT,
        customer_group_id TEXT REFERENCES customer_groups(id),
        territory_id TEXT REFERENCES territories(id),
        credit_limit_amount TEXT,
        credit_limit_currency TEXT,
        payment_terms_name TEXT,
        payment_terms_days INTEGER,
        tax_id TEXT,
        billing_address TEXT,
        shipping_address TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX customers_group ON customers (customer_group_id, id)",
    "CREATE INDEX customers_territory ON customers (territory_id, id)",
    "CREATE INDEX customers_active ON customers (active, id)",
    "CREATE TABLE customer_external_ids (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        PRIMARY KEY (source, external_id)
    )",
    "CREATE UNIQUE INDEX customer_external_ids_owner ON customer_external_ids (customer_id, source)",
    "CREATE TABLE products (
        id TEXT PRIMARY KEY NOT NULL,
        sku TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        item_group_id TEXT REFERENCES item_groups(id),
        uom TEXT NOT NULL,
        kind TEXT NOT NULL,
        standard_cost_amount TEXT NOT NULL,
        standard_cost_currency TEXT NOT NULL,
        lead_time_days INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX products_sku ON products (sku)",
    "CREATE INDEX products_item_group ON products (item_group_id, id)",
    "CREATE INDEX products_kind ON products (kind, id)",
    "CREATE INDEX products_active ON products (active, id)",
    "CREATE TABLE product_external_ids (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        product_id TEXT NOT NULL REFERENCES products(id),
        PRIMARY KEY (source, external_id)
    )",
    "CREATE UNIQUE INDEX product_external_ids_owner ON product_external_ids (product_id, source)",
    "CREATE TABLE channels (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        mode TEXT NOT NULL,
        currency TEXT NOT NULL,
        default_price_list_id TEXT,
        tax_mode TEXT NOT NULL,
        warehouses TEXT NOT NULL,
        quotation_required INTEGER NOT NULL,
        approval_policy_id TEXT,
        payment_terms_name TEXT,
        payment_terms_days INTEGER,
        credit_check TEXT,
        paid_on_order INTEGER NOT NULL,
        fulfil_on_order INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX channels_code ON channels (code)",
    // The one settings row. Its column defaults are `Settings::default()`
    // (a test keeps the two equal); the row exists from the start so reads
    // never have to invent one.
    "CREATE TABLE settings (
        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
        default_channel TEXT,
        quotation_validity_days INTEGER NOT NULL DEFAULT 30,
        rounding TEXT NOT NULL DEFAULT 'half_up',
        credit_check TEXT NOT NULL DEFAULT 'block',
        allow_order_from_expired_quotation INTEGER NOT NULL DEFAULT 0,
        keep_quoted_rate INTEGER NOT NULL DEFAULT 1,
        channel_defaults TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL
    )",
    "INSERT INTO settings (id, updated_at) VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        prefix TEXT NOT NULL,
        roles TEXT NOT NULL,
        principal_id TEXT NOT NULL,
        principal_name TEXT NOT NULL,
        sales_person_id TEXT,
        territory_id TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )",
    "CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash)",
    "CREATE INDEX api_keys_principal ON api_keys (principal_id)",
    "CREATE TABLE idempotency_keys (
        principal TEXT NOT NULL,
        key TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        response_headers TEXT NOT NULL,
        response_body BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (principal, key)
    )",
    "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
    "CREATE TABLE document_series (
        prefix TEXT NOT NULL,
        year INTEGER NOT NULL,
        last_value INTEGER NOT NULL,
        PRIMARY KEY (prefix, year)
    )",
];

/// Migration 2: pricing — price lists and their items, rules, discount
/// schedules, tax templates, guards, and where tax is rounded.
const V2_PRICING: &[&str] = &[
    "CREATE TABLE price_lists (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        currency TEXT NOT NULL,
        customer_id TEXT REFERENCES customers(id),
        customer_group_id TEXT REFERENCES customer_groups(id),
        channel_id TEXT REFERENCES channels(id),
        valid_from TEXT,
        valid_to TEXT,
        base_price_list_id TEXT REFERENCES price_lists(id),
        adjustment_percent TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX price_lists_active ON price_lists (active, currency, id)",
    "CREATE INDEX price_lists_base ON price_lists (base_price_list_id)",
    // Items by (list, product, unit); the second index serves a basket's
    // lookups (its products, in the applicable lists).
    "CREATE TABLE price_list_items (
        price_list_id TEXT NOT NULL REFERENCES price_lists(id),
        product_id TEXT NOT NULL,
        uom TEXT NOT NULL,
        rate TEXT NOT NULL,
        PRIMARY KEY (price_list_id, product_id, uom)
    ) WITHOUT ROWID",
    "CREATE INDEX price_list_items_product ON price_list_items (product_id, price_list_id)",
    "CREATE TABLE pricing_rules (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        priority INTEGER NOT NULL,
        any_item INTEGER NOT NULL,
        coupon TEXT,
        schedule_id TEXT REFERENCES discount_schedules(id),
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX pricing_rules_any_item ON pricing_rules (any_item, active)",
    "CREATE INDEX pricing_rules_coupon ON pricing_rules (coupon, active)",
    "CREATE INDEX pricing_rules_schedule ON pricing_rules (schedule_id, active)",
    // A rule's products, else its item groups (ids of either kind).
    "CREATE TABLE pricing_rule_targets (
        target_id TEXT NOT NULL,
        rule_id TEXT NOT NULL REFERENCES pricing_rules(id),
        PRIMARY KEY (target_id, rule_id)
    ) WITHOUT ROWID",
    "CREATE INDEX pricing_rule_targets_rule ON pricing_rule_targets (rule_id)",
    "CREATE TABLE discount_schedules (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE TABLE tax_templates (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        is_default INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    // `name` holds the scope kind (`product` / `item_group`); guards have no name.
    "CREATE TABLE price_guards (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        target_id TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX price_guards_target ON price_guards (target_id, active)",
    "ALTER TABLE settings ADD COLUMN tax_rounding TEXT NOT NULL DEFAULT 'per_line'",
];

/// Migration 3: availability — warehouses, stock positions and their
/// adjustment ledger, scheduled receipts, reservation holds and their lines.
/// Quantities are INTEGER thousandths of a unit (`*_milli`), so the
/// conditional reserve (`on_hand + incoming - reserved >= ?`) is exact.
const V3_AVAILABILITY: &[&str] = &[
    "CREATE TABLE warehouses (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX warehouses_code ON warehouses (code)",
    // One row per product and warehouse: on hand, open receipts
    // (`incoming`) and held reservations (`reserved`), kept in step by the
    // repositories so the reserve check is one conditional UPDATE.
    "CREATE TABLE stock_positions (
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL REFERENCES warehouses(id),
        on_hand_milli INTEGER NOT NULL DEFAULT 0,
        incoming_milli INTEGER NOT NULL DEFAULT 0,
        reserved_milli INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (product_id, warehouse_id)
    ) WITHOUT ROWID",
    "CREATE INDEX stock_positions_warehouse ON stock_positions (warehouse_id, product_id)",
    "CREATE TABLE stock_adjustments (
        id TEXT PRIMARY KEY NOT NULL,
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL REFERENCES warehouses(id),
        delta_milli INTEGER NOT NULL,
        on_hand_after_milli INTEGER NOT NULL,
        reason TEXT NOT NULL,
        external_source TEXT,
        external_id TEXT,
        created_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX stock_adjustments_external
        ON stock_adjustments (external_source, external_id)",
    "CREATE INDEX stock_adjustments_position
        ON stock_adjustments (product_id, warehouse_id, id)",
    "CREATE TABLE receipts (
        id TEXT PRIMARY KEY NOT NULL,
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL REFERENCES warehouses(id),
        quantity_milli INTEGER NOT NULL,
        due_on TEXT NOT NULL,
        reference TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX receipts_position ON receipts (product_id, warehouse_id, active)",
    "CREATE TABLE reservations (
        id TEXT PRIMARY KEY NOT NULL,
        document TEXT NOT NULL,
        status TEXT NOT NULL,
        valid_until TEXT,
        promise TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX reservations_status ON reservations (status, valid_until)",
    "CREATE INDEX reservations_document ON reservations (document, id)",
    "CREATE TABLE reservation_lines (
        reservation_id TEXT NOT NULL REFERENCES reservations(id),
        seq INTEGER NOT NULL,
        line_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        needed_on TEXT NOT NULL,
        PRIMARY KEY (reservation_id, seq)
    ) WITHOUT ROWID",
    "CREATE INDEX reservation_lines_position
        ON reservation_lines (product_id, warehouse_id)",
];

/// Migration 4: approvals — policies (the JSON of the domain policy; its
/// revision lives in the body), requests (the whole domain request as JSON
/// beside the columns lists filter on), the principals each pending step
/// waits for (the inbox index, rewritten with the request), the
/// append-only decision records, and delegations.
const V4_APPROVALS: &[&str] = &[
    "CREATE TABLE approval_policies (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX approval_policies_active ON approval_policies (active, id)",
    "CREATE TABLE approval_requests (
        id TEXT PRIMARY KEY NOT NULL,
        document_kind TEXT NOT NULL,
        document_id TEXT NOT NULL,
        document_version INTEGER NOT NULL,
        status TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        body TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX approval_requests_document
        ON approval_requests (document_kind, document_id, document_version)",
    "CREATE INDEX approval_requests_status ON approval_requests (status, id)",
    "CREATE TABLE approval_request_assignees (
        principal_id TEXT NOT NULL,
        request_id TEXT NOT NULL REFERENCES approval_requests(id),
        PRIMARY KEY (principal_id, request_id)
    ) WITHOUT ROWID",
    "CREATE INDEX approval_request_assignees_request
        ON approval_request_assignees (request_id)",
    "CREATE TABLE approval_decisions (
        request_id TEXT NOT NULL REFERENCES approval_requests(id),
        seq INTEGER NOT NULL,
        decided_by TEXT NOT NULL,
        on_behalf_of TEXT,
        at TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (request_id, seq)
    ) WITHOUT ROWID",
    "CREATE TABLE approval_delegations (
        id TEXT PRIMARY KEY NOT NULL,
        from_principal TEXT NOT NULL,
        to_principal TEXT NOT NULL,
        starts TEXT NOT NULL,
        ends TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE INDEX approval_delegations_from ON approval_delegations (from_principal, starts)",
    "CREATE INDEX approval_delegations_to ON approval_delegations (to_principal, starts)",
];

/// Migration 5: capacity for capable-to-promise and project timelines —
/// working calendars, work centres (with their routings) and project roles
/// (with the service products they deliver), stored as the JSON of their
/// record beside the columns the loader looks up by.
const V5_CAPACITY: &[&str] = &[
    "CREATE TABLE calendars (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE TABLE work_centers (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        calendar_id TEXT NOT NULL REFERENCES calendars(id),
        body TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX work_centers_calendar ON work_centers (calendar_id)",
    "CREATE TABLE project_roles (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        calendar_id TEXT NOT NULL REFERENCES calendars(id),
        body TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX project_roles_calendar ON project_roles (calendar_id)",
    // Which work centre makes a product / which role delivers a service
    // product: one owner per product, found by index.
    "CREATE TABLE capacity_products (
        product_id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL,
        owner_id TEXT NOT NULL
    ) WITHOUT ROWID",
    "CREATE INDEX capacity_products_owner ON capacity_products (owner_id)",
];

/// Migration 6: who manages whom, for approval chains (`submitter_manager`
/// approvers, escalation to the next manager up) until the teams
/// capability owns the hierarchy. One manager per principal.
const V6_APPROVAL_MANAGERS: &[&str] = &[
    "CREATE TABLE approval_managers (
        id TEXT PRIMARY KEY NOT NULL,
        principal_id TEXT NOT NULL,
        manager_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX approval_managers_principal ON approval_managers (principal_id)",
];

/// Migration 7: sales orders (issue #7). `sales_orders` keeps the header
/// as columns lists filter on (status, customer, channel, order date) and
/// the order flow's results as JSON (totals, the price waterfall, the
/// credit outcome, the promise); `revision` counts content changes (what
/// approval requests name as the document version) while `version`
/// counts every change. `sales_order_lines` keeps quantities as INTEGER
/// thousandths like availability, money as decimal TEXT in the order's
/// currency. `sales_order_shipments` records each shipment, once per
/// outside system's id.
const V7_ORDERS: &[&str] = &[
    "CREATE TABLE sales_orders (
        id TEXT PRIMARY KEY NOT NULL,
        number TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        status TEXT NOT NULL,
        held_from TEXT,
        quotation_id TEXT,
        requested_date TEXT,
        customer_reference TEXT,
        payment_terms TEXT,
        order_date TEXT NOT NULL,
        grand_total TEXT,
        totals TEXT,
        waterfall TEXT,
        credit TEXT,
        promise TEXT,
        approval_request_id TEXT,
        submitted_by TEXT,
        submitted_at TEXT,
        status_reason TEXT,
        paid_amount TEXT NOT NULL DEFAULT '0',
        revision INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_orders_number ON sales_orders (number)",
    "CREATE INDEX sales_orders_status ON sales_orders (status, id)",
    "CREATE INDEX sales_orders_customer ON sales_orders (customer_id, status, id)",
    "CREATE INDEX sales_orders_channel ON sales_orders (channel_id, id)",
    "CREATE INDEX sales_orders_date ON sales_orders (order_date, id)",
    "CREATE INDEX sales_orders_quotation ON sales_orders (quotation_id)",
    "CREATE TABLE sales_order_lines (
        order_id TEXT NOT NULL REFERENCES sales_orders(id),
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        product_kind TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        uom TEXT NOT NULL,
        requested_date TEXT,
        kept_rate TEXT,
        quotation_line_id TEXT,
        list_price TEXT,
        net_unit_price TEXT,
        net_total TEXT,
        tax_total TEXT,
        gross_total TEXT,
        margin TEXT,
        flags TEXT,
        promised_date TEXT,
        promise_source TEXT,
        reserved_milli INTEGER NOT NULL DEFAULT 0,
        reservation_id TEXT,
        shipped_milli INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (order_id, seq)
    ) WITHOUT ROWID",
    "CREATE UNIQUE INDEX sales_order_lines_id ON sales_order_lines (id)",
    "CREATE INDEX sales_order_lines_product ON sales_order_lines (product_id)",
    "CREATE INDEX sales_order_lines_quotation_line ON sales_order_lines (quotation_line_id)",
    "CREATE TABLE sales_order_shipments (
        id TEXT PRIMARY KEY NOT NULL,
        order_id TEXT NOT NULL REFERENCES sales_orders(id),
        external_source TEXT,
        external_id TEXT,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_order_shipments_external
        ON sales_order_shipments (external_source, external_id)",
    "CREATE INDEX sales_order_shipments_order ON sales_order_shipments (order_id, id)",
];

/// Migration 8: the outbox and the downstream records the jobs component
/// writes (issue #7).
///
/// `outbox`: events written in the same transaction as the change they
/// announce; the jobs component claims due rows with a lease
/// (`status = 'running'`, `lease_owner`, `lease_until`), completes them
/// (`done`) or schedules a retry (`pending` with a later `available_at`),
/// and parks them after the last attempt (`parked`, `last_error`).
///
/// Downstream records: `downstream_orders` (the newest order version whose
/// demand was applied — reconciliation ignores older ones), `work_orders`
/// (one per order line that is manufactured, with the receipt, the pegged
/// reservation and the work-centre load it added), `projects` (one per
/// order with service lines) and `project_tasks` (one per service line,
/// with the role booking it added), and `notifications` (an in-app inbox,
/// one row per recipient and `dedupe_key`).
const V8_JOBS: &[&str] = &[
    "CREATE TABLE outbox (
        id TEXT PRIMARY KEY NOT NULL,
        topic TEXT NOT NULL,
        aggregate_kind TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        available_at TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        processed_at TEXT
    )",
    // Claiming: pending rows that are due, oldest first …
    "CREATE INDEX outbox_due ON outbox (status, available_at, id)",
    // … and running rows whose lease has run out.
    "CREATE INDEX outbox_lease ON outbox (status, lease_until)",
    "CREATE INDEX outbox_aggregate ON outbox (aggregate_kind, aggregate_id, id)",
    "CREATE INDEX outbox_topic ON outbox (topic, id)",
    "CREATE TABLE downstream_orders (
        order_id TEXT PRIMARY KEY NOT NULL,
        order_number TEXT NOT NULL,
        applied_version INTEGER NOT NULL,
        state TEXT NOT NULL,
        demand TEXT NOT NULL,
        event_id TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID",
    "CREATE TABLE work_orders (
        id TEXT PRIMARY KEY NOT NULL,
        number TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_number TEXT NOT NULL,
        line_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL,
        work_center_id TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        hours TEXT NOT NULL,
        start_on TEXT NOT NULL,
        finish_on TEXT NOT NULL,
        due_on TEXT,
        schedule TEXT NOT NULL,
        status TEXT NOT NULL,
        receipt_id TEXT,
        reservation_id TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX work_orders_number ON work_orders (number)",
    "CREATE UNIQUE INDEX work_orders_line ON work_orders (order_id, line_id)",
    "CREATE INDEX work_orders_status ON work_orders (status, id)",
    "CREATE INDEX work_orders_product ON work_orders (product_id, id)",
    "CREATE TABLE projects (
        id TEXT PRIMARY KEY NOT NULL,
        number TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_number TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX projects_number ON projects (number)",
    "CREATE UNIQUE INDEX projects_order ON projects (order_id)",
    "CREATE INDEX projects_status ON projects (status, id)",
    "CREATE INDEX projects_customer ON projects (customer_id, id)",
    "CREATE TABLE project_tasks (
        id TEXT PRIMARY KEY NOT NULL,
        project_id TEXT NOT NULL REFERENCES projects(id),
        line_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        role_id TEXT NOT NULL,
        hours TEXT NOT NULL,
        start_on TEXT NOT NULL,
        finish_on TEXT NOT NULL,
        due_on TEXT,
        schedule TEXT NOT NULL,
        status TEXT NOT NULL,
        booked INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX project_tasks_line ON project_tasks (project_id, line_id)",
    "CREATE TABLE notifications (
        id TEXT PRIMARY KEY NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject_kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        message TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        read_at TEXT,
        created_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX notifications_dedupe ON notifications (recipient, dedupe_key)",
    "CREATE INDEX notifications_recipient ON notifications (recipient, id)",
];

/// Migration 9: quotations (issue #7). The current revision's header is
/// `quotations` (columns lists filter on, plus the JSON of the rest); its
/// lines are `quotation_lines` with INTEGER thousandths (`quantity_milli`,
/// `ordered_milli`, as availability) so what remains to be ordered is
/// exact and checked by the schema; every superseded revision is a
/// read-only JSON snapshot in `quotation_revisions`.
const V9_QUOTATIONS: &[&str] = &[
    "CREATE TABLE quotations (
        id TEXT PRIMARY KEY NOT NULL,
        number TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        channel_id TEXT NOT NULL REFERENCES channels(id),
        currency TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        net_total_amount TEXT,
        body TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX quotations_number ON quotations (number)",
    "CREATE INDEX quotations_status ON quotations (status, valid_until)",
    "CREATE INDEX quotations_customer ON quotations (customer_id, id)",
    "CREATE INDEX quotations_channel ON quotations (channel_id, id)",
    "CREATE INDEX quotations_valid_until ON quotations (valid_until, id)",
    "CREATE TABLE quotation_lines (
        quotation_id TEXT NOT NULL REFERENCES quotations(id),
        seq INTEGER NOT NULL,
        line_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        alternative_group TEXT,
        selected INTEGER NOT NULL,
        quantity_milli INTEGER NOT NULL CHECK (quantity_milli > 0),
        ordered_milli INTEGER NOT NULL DEFAULT 0
            CHECK (ordered_milli >= 0 AND ordered_milli <= quantity_milli),
        body TEXT NOT NULL,
        PRIMARY KEY (quotation_id, seq)
    ) WITHOUT ROWID",
    "CREATE UNIQUE INDEX quotation_lines_line ON quotation_lines (line_id)",
    "CREATE INDEX quotation_lines_product ON quotation_lines (product_id)",
    "CREATE TABLE quotation_revisions (
        quotation_id TEXT NOT NULL REFERENCES quotations(id),
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,
        superseded_at TEXT NOT NULL,
        PRIMARY KEY (quotation_id, revision)
    ) WITHOUT ROWID",
];

/// Migration 10: sales teams (issue #8). People, teams, partners, rules
/// and plans keep their validated domain record as JSON in `body` beside
/// the columns lookups use. `sales_team_members` indexes each team's
/// split by person. `document_sales_teams` / `document_sales_partners` are
/// the split credited on a quotation or order (kind `quotation` /
/// `order`). `commission_ledger` is append-only — triggers refuse any
/// UPDATE or DELETE — so what was once booked stays visible and a change
/// is always a new row.
const V10_TEAMS: &[&str] = &[
    "CREATE TABLE sales_people (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        principal_id TEXT,
        manager_id TEXT REFERENCES sales_people(id),
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_people_principal ON sales_people (principal_id)
        WHERE principal_id IS NOT NULL",
    "CREATE INDEX sales_people_manager ON sales_people (manager_id, id)",
    "CREATE TABLE sales_teams (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        territory_id TEXT REFERENCES territories(id),
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_teams_code ON sales_teams (code)",
    "CREATE INDEX sales_teams_territory ON sales_teams (territory_id, id)",
    "CREATE TABLE sales_team_members (
        team_id TEXT NOT NULL REFERENCES sales_teams(id),
        sales_person_id TEXT NOT NULL REFERENCES sales_people(id),
        percentage TEXT NOT NULL,
        PRIMARY KEY (team_id, sales_person_id)
    ) WITHOUT ROWID",
    "CREATE INDEX sales_team_members_person ON sales_team_members (sales_person_id)",
    "CREATE TABLE sales_partners (
        id TEXT PRIMARY KEY NOT NULL,
        code TEXT NOT NULL,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_partners_code ON sales_partners (code)",
    "CREATE TABLE territory_managers (
        id TEXT PRIMARY KEY NOT NULL,
        territory_id TEXT NOT NULL REFERENCES territories(id),
        sales_person_id TEXT NOT NULL REFERENCES sales_people(id),
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX territory_managers_territory ON territory_managers (territory_id)",
    "CREATE INDEX territory_managers_person ON territory_managers (sales_person_id)",
    "CREATE TABLE territory_rules (
        id TEXT PRIMARY KEY NOT NULL,
        territory_id TEXT NOT NULL REFERENCES territories(id),
        country TEXT NOT NULL,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX territory_rules_country ON territory_rules (country, id)",
    "CREATE INDEX territory_rules_territory ON territory_rules (territory_id, id)",
    "CREATE TABLE commission_plans (
        id TEXT PRIMARY KEY NOT NULL,
        beneficiary_kind TEXT NOT NULL,
        beneficiary_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        effective_to TEXT,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX commission_plans_beneficiary
        ON commission_plans (beneficiary_kind, beneficiary_id, id)",
    "CREATE TABLE sales_targets (
        id TEXT PRIMARY KEY NOT NULL,
        subject_kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        period_kind TEXT NOT NULL,
        period_start TEXT NOT NULL,
        item_group_id TEXT,
        body TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX sales_targets_subject_period ON sales_targets
        (subject_kind, subject_id, period_kind, period_start, COALESCE(item_group_id, ''))",
    "CREATE TABLE document_sales_teams (
        document_kind TEXT NOT NULL,
        document_id TEXT NOT NULL,
        sales_person_id TEXT NOT NULL REFERENCES sales_people(id),
        percentage TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (document_kind, document_id, sales_person_id)
    ) WITHOUT ROWID",
    "CREATE INDEX document_sales_teams_person
        ON document_sales_teams (sales_person_id, document_kind, document_id)",
    "CREATE TABLE document_sales_partners (
        document_kind TEXT NOT NULL,
        document_id TEXT NOT NULL,
        sales_partner_id TEXT NOT NULL REFERENCES sales_partners(id),
        PRIMARY KEY (document_kind, document_id)
    ) WITHOUT ROWID",
    "CREATE INDEX document_sales_partners_partner
        ON document_sales_partners (sales_partner_id, document_kind, document_id)",
    "CREATE TABLE commission_ledger (
        id TEXT PRIMARY KEY NOT NULL,
        beneficiary_kind TEXT NOT NULL,
        beneficiary_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        order_id TEXT,
        order_number TEXT,
        order_version INTEGER,
        earned_on TEXT NOT NULL,
        plan_id TEXT,
        reason TEXT,
        created_by TEXT,
        created_at TEXT NOT NULL
    )",
    "CREATE INDEX commission_ledger_beneficiary
        ON commission_ledger (beneficiary_kind, beneficiary_id, earned_on)",
    "CREATE INDEX commission_ledger_order ON commission_ledger (order_id, id)",
    "CREATE TRIGGER commission_ledger_no_update BEFORE UPDATE ON commission_ledger
     BEGIN SELECT RAISE(ABORT, 'the commission ledger is append-only'); END",
    "CREATE TRIGGER commission_ledger_no_delete BEFORE DELETE ON commission_ledger
     BEGIN SELECT RAISE(ABORT, 'the commission ledger is append-only'); END",
];

/// Migration 11: analytics rollups (issue #10), maintained by the jobs
/// component from `order.*` events (`sales_store::analytics::rollup`).
/// Amounts are INTEGER ten-thousandths so `SUM` is exact; a missing
/// dimension is `''` (key columns are never NULL).
///
/// `analytics_daily` is the cube the period reports read: one row per
/// order date × currency × channel × territory × customer group, so a
/// year by month × territory reads at most a few thousand rows whatever
/// the number of order lines. `analytics_orders` / `analytics_order_lines`
/// are the booked orders' facts with their dimensions (the breakdowns by
/// item group, product, customer and sales person, and the cube's own
/// bookkeeping: what an order contributed, so a change takes exactly that
/// out again). `analytics_order_versions` is the newest order version
/// applied: a replayed event is skipped.
const V11_ANALYTICS: &[&str] = &[
    "CREATE TABLE analytics_daily (
        day TEXT NOT NULL,
        currency TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        territory_id TEXT NOT NULL,
        customer_group_id TEXT NOT NULL,
        orders INTEGER NOT NULL,
        quantity_milli INTEGER NOT NULL,
        net_e4 INTEGER NOT NULL,
        margin_e4 INTEGER NOT NULL,
        PRIMARY KEY (day, currency, channel_id, territory_id, customer_group_id)
    ) WITHOUT ROWID",
    "CREATE TABLE analytics_orders (
        order_id TEXT PRIMARY KEY NOT NULL,
        order_date TEXT NOT NULL,
        currency TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        territory_id TEXT NOT NULL,
        customer_group_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        net_e4 INTEGER NOT NULL,
        margin_e4 INTEGER NOT NULL
    ) WITHOUT ROWID",
    "CREATE INDEX analytics_orders_date ON analytics_orders (currency, order_date)",
    "CREATE TABLE analytics_order_lines (
        order_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        order_date TEXT NOT NULL,
        currency TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        territory_id TEXT NOT NULL,
        customer_group_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        item_group_id TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        net_e4 INTEGER NOT NULL,
        margin_e4 INTEGER NOT NULL,
        PRIMARY KEY (order_id, seq)
    ) WITHOUT ROWID",
    // Breakdowns and filters by product / item group / customer over a range.
    "CREATE INDEX analytics_lines_date ON analytics_order_lines (currency, order_date)",
    "CREATE INDEX analytics_lines_product ON analytics_order_lines (product_id, currency, order_date)",
    "CREATE INDEX analytics_lines_item_group
        ON analytics_order_lines (item_group_id, currency, order_date)",
    "CREATE TABLE analytics_order_versions (
        order_id TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL
    ) WITHOUT ROWID",
    // The funnel and the cycle times read the documents by date.
    "CREATE INDEX quotations_created ON quotations (created_at)",
    "CREATE INDEX sales_orders_submitted ON sales_orders (order_date, submitted_at)",
];

/// Migration 12: the integration hub (issue #9). `inbound_events` logs
/// every accepted inbound call with its outcome and raw payload; the
/// partial unique index makes a platform event create its document once
/// (a repeat is logged with `duplicate_of`). `webhook_subscriptions` keep
/// their signing secret (it must be readable to sign). One
/// `webhook_deliveries` row per event and target (`dedupe_key`), claimed
/// with a lease like the outbox, each attempt in
/// `webhook_delivery_attempts`. `automations` hold their rule as JSON;
/// `automation_runs` makes each action of each rule run once per event.
const V12_INTEGRATIONS: &[&str] = &[
    "CREATE TABLE inbound_events (
        id TEXT PRIMARY KEY NOT NULL,
        source TEXT NOT NULL,
        topic TEXT NOT NULL,
        external_id TEXT,
        outcome TEXT NOT NULL,
        reason TEXT,
        document_kind TEXT,
        document_id TEXT,
        duplicate_of TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX inbound_events_once ON inbound_events (source, external_id)
        WHERE duplicate_of IS NULL AND external_id IS NOT NULL",
    "CREATE INDEX inbound_events_source ON inbound_events (source, id)",
    "CREATE TABLE webhook_subscriptions (
        id TEXT PRIMARY KEY NOT NULL,
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT,
        active INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY NOT NULL,
        subscription_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        origin TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TEXT,
        last_status INTEGER,
        last_error TEXT,
        delivered_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
    "CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id)",
    "CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)",
    "CREATE TABLE webhook_delivery_attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    ) WITHOUT ROWID",
    "CREATE TABLE automations (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        event TEXT NOT NULL,
        rule TEXT NOT NULL,
        active INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX automations_event ON automations (event, active)",
    "CREATE TABLE automation_runs (
        automation_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        action_index INTEGER NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT,
        ran_at TEXT NOT NULL,
        PRIMARY KEY (automation_id, event_id, action_index)
    ) WITHOUT ROWID",
];

/// Migration 13: analytics at a year's scale (issue #10). `analytics_monthly`
/// is the daily cube summed by calendar month (`month` is its first day),
/// maintained in the same refresh as `analytics_daily`, so a report over
/// whole months reads a thirtieth of the cells (the edges of a range that
/// are not whole months still read the daily cube); filled here from the
/// daily cube. The funnel compares `created_at` as a timestamp range on
/// `quotations_funnel` (covering: status, channel, customer), and reads lost
/// reasons from a partial index of lost quotations only; it supersedes the
/// plain `quotations_created`.
const V13_ANALYTICS_MONTHLY: &[&str] = &[
    "CREATE TABLE analytics_monthly (
        month TEXT NOT NULL,
        currency TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        territory_id TEXT NOT NULL,
        customer_group_id TEXT NOT NULL,
        orders INTEGER NOT NULL,
        quantity_milli INTEGER NOT NULL,
        net_e4 INTEGER NOT NULL,
        margin_e4 INTEGER NOT NULL,
        PRIMARY KEY (month, currency, channel_id, territory_id, customer_group_id)
    ) WITHOUT ROWID",
    "INSERT INTO analytics_monthly
        (month, currency, channel_id, territory_id, customer_group_id,
         orders, quantity_milli, net_e4, margin_e4)
     SELECT substr(day, 1, 7) || '-01', currency, channel_id, territory_id, customer_group_id,
            SUM(orders), SUM(quantity_milli), SUM(net_e4), SUM(margin_e4)
     FROM analytics_daily
     GROUP BY substr(day, 1, 7), currency, channel_id, territory_id, customer_group_id",
    "CREATE INDEX quotations_funnel ON quotations (created_at, status, channel_id, customer_id)",
    "CREATE INDEX quotations_lost_reasons
        ON quotations (created_at, json_extract(body, '$.lost.reason'), channel_id, customer_id)
        WHERE status = 'lost'",
    "DROP INDEX quotations_created",
];

/// Migration 14: the held quantity per position, date and last day
/// (issue #7's submission benchmark). `reservation_totals` is the sum of
/// the `held` holds' `reservation_lines` per product × warehouse ×
/// `needed_on` × the hold's `valid_until` (`''` for a hold without a last
/// day: a key column cannot be NULL), kept by `reservations::reserve` and
/// `finish_hold` in the same SAVEPOINT as the ledger rows they write, so
/// a check reads one row per (date, last day) instead of summing every open
/// hold's rows. Filled here from the ledger.
const V14_RESERVATION_TOTALS: &[&str] = &[
    "CREATE TABLE reservation_totals (
        product_id TEXT NOT NULL,
        warehouse_id TEXT NOT NULL,
        needed_on TEXT NOT NULL,
        valid_until TEXT NOT NULL,
        quantity_milli INTEGER NOT NULL,
        PRIMARY KEY (product_id, warehouse_id, needed_on, valid_until)
    ) WITHOUT ROWID",
    "INSERT INTO reservation_totals
        (product_id, warehouse_id, needed_on, valid_until, quantity_milli)
     SELECT l.product_id, l.warehouse_id, l.needed_on, COALESCE(h.valid_until, ''),
            SUM(l.quantity_milli)
     FROM reservation_lines l JOIN reservations h ON h.id = l.reservation_id
     WHERE h.status = 'held'
     GROUP BY l.product_id, l.warehouse_id, l.needed_on, COALESCE(h.valid_until, '')
     HAVING SUM(l.quantity_milli) <> 0",
];

/// Migration 15: the funnel without a sort (issue #10's p99). The counts
/// by status read `quotations_funnel_status (status, created_at, ...)`
/// with every status listed (`status IN (...)`): one index range per
/// status, counted in index order, no temporary B-tree. The lost reasons
/// read the `VIRTUAL` generated column `lost_reason` (computed on read,
/// nothing stored; added by `ALTER TABLE`, which SQLite allows for virtual
/// columns) through a partial index of lost quotations that holds it, so
/// no JSON body is parsed at report time. Both supersede the V13 indexes.
const V15_FUNNEL_BY_STATUS: &[&str] = &[
    "ALTER TABLE quotations ADD COLUMN lost_reason TEXT
        GENERATED ALWAYS AS (json_extract(body, '$.lost.reason')) VIRTUAL",
    "CREATE INDEX quotations_funnel_status
        ON quotations (status, created_at, channel_id, customer_id)",
    "CREATE INDEX quotations_lost_reason
        ON quotations (created_at, lost_reason, channel_id, customer_id)
        WHERE status = 'lost'",
    "DROP INDEX quotations_funnel",
    "DROP INDEX quotations_lost_reasons",
];

/// Every migration, oldest first. Append only.
/// Issue 9: several shops per platform (each with its own secret and
/// channel) and the outside systems' own ids on our documents.
const V16_SHOPS_AND_REFERENCES: &[&str] = &[
    "CREATE TABLE shop_connections (
        id TEXT PRIMARY KEY NOT NULL,
        platform TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
        shop TEXT NOT NULL,
        code TEXT NOT NULL UNIQUE,
        secret TEXT NOT NULL,
        channel_code TEXT NOT NULL,
        active INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (platform, shop)
    )",
    "CREATE TABLE external_references (
        document_kind TEXT NOT NULL,
        document_id TEXT NOT NULL,
        system TEXT NOT NULL,
        kind TEXT NOT NULL,
        external_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (document_kind, document_id, system, kind)
    ) WITHOUT ROWID",
    "CREATE INDEX external_references_lookup
        ON external_references (system, kind, external_id)",
];

/// Issue 4: the pricing data version. One counter that every write to the
/// data the pricing snapshot is built from bumps in the same transaction
/// (triggers, so no write path can forget it): price-list headers, rules,
/// discount schedules, tax templates, guards, and the settings the engine
/// reads. The key-value cache of the snapshot is valid for one version
/// (`sales_store::pricing::snapshot`). Price-list items are not cached (a
/// basket reads its products' items by index), so they bump nothing.
const V17_PRICING_DATA_VERSION: &[&str] = &[
    "CREATE TABLE pricing_data_version (
        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
        version INTEGER NOT NULL
    )",
    "INSERT INTO pricing_data_version (id, version) VALUES (1, 1)",
    "CREATE TRIGGER price_lists_insert_bumps_pricing_version AFTER INSERT ON price_lists
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER price_lists_update_bumps_pricing_version AFTER UPDATE ON price_lists
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER price_lists_delete_bumps_pricing_version AFTER DELETE ON price_lists
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER pricing_rules_insert_bumps_pricing_version AFTER INSERT ON pricing_rules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER pricing_rules_update_bumps_pricing_version AFTER UPDATE ON pricing_rules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER pricing_rules_delete_bumps_pricing_version AFTER DELETE ON pricing_rules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER discount_schedules_insert_bumps_pricing_version AFTER INSERT ON discount_schedules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER discount_schedules_update_bumps_pricing_version AFTER UPDATE ON discount_schedules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER discount_schedules_delete_bumps_pricing_version AFTER DELETE ON discount_schedules
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER tax_templates_insert_bumps_pricing_version AFTER INSERT ON tax_templates
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER tax_templates_update_bumps_pricing_version AFTER UPDATE ON tax_templates
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER tax_templates_delete_bumps_pricing_version AFTER DELETE ON tax_templates
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER price_guards_insert_bumps_pricing_version AFTER INSERT ON price_guards
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER price_guards_update_bumps_pricing_version AFTER UPDATE ON price_guards
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER price_guards_delete_bumps_pricing_version AFTER DELETE ON price_guards
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
    "CREATE TRIGGER settings_pricing_update_bumps_pricing_version
        AFTER UPDATE OF rounding, tax_rounding, channel_defaults ON settings
        BEGIN UPDATE pricing_data_version SET version = version + 1 WHERE id = 1; END",
];

/// Issue 7: the outbox's drain lease — which jobs consumer is draining, so
/// that wake-ups arriving meanwhile leave the queue to it
/// (`sales_store::outbox::drain_session`). One row: `owner` and
/// `lease_until` are NULL while nobody drains.
const V18_OUTBOX_DRAIN: &[&str] = &[
    "CREATE TABLE outbox_drain (
        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
        owner TEXT,
        lease_until TEXT
    )",
    "INSERT INTO outbox_drain (id, owner, lease_until) VALUES (1, NULL, NULL)",
];

/// Issue 7: the credit check's exposure (`orders::customer_exposure`, on
/// every submission on credit) read from an index alone. A confirmed
/// order's row carries its waterfall and promise in overflow pages, and
/// `paid_amount` comes after them: summing from the table read every one
/// of the customer's orders' overflow chains.
const V19_EXPOSURE_INDEX: &[&str] = &["CREATE INDEX sales_orders_exposure
        ON sales_orders (customer_id, currency, status, grand_total, paid_amount, id)"];

/// Issue 7: a hold's rows without the index by position. Since migration
/// 14 every read of a position's held stock goes through
/// `reservation_totals`; `reservation_lines` is read only by its hold
/// (`reservation_id`, the primary key's prefix). The index by
/// `(product_id, warehouse_id)` kept one cluster of entries per position,
/// so a 20-line hold added its entries to some 20–40 different leaf pages:
/// 31 of the 86 pages (WAL frames) a submission's transaction wrote in
/// the submission benchmark, for an index nothing read.
const V20_HOLD_ROWS_WITHOUT_POSITION_INDEX: &[&str] = &["DROP INDEX reservation_lines_position"];

/// Issue 7: the outbox's queue in one index instead of two. `outbox_due`
/// (status, available_at, id) served the pending side and `outbox_lease`
/// (status, lease_until) the running side; every event wrote both on its
/// insert, its claim and its completion (each changes `status`), ~1.5 WAL
/// pages and ~4 page reads per order in the submission benchmark. One
/// index with `lease_until` and `attempts` after the key serves every
/// claim, drain check and park from the index alone (the drain check's
/// `attempts = 0` read the pending rows' table pages before), and the
/// status filter of the outbox list still searches it.
const V21_OUTBOX_QUEUE_INDEX: &[&str] = &[
    "CREATE INDEX outbox_queue ON outbox (status, available_at, id, lease_until, attempts)",
    "DROP INDEX outbox_due",
    "DROP INDEX outbox_lease",
];

/// Issue 7: an order's customer index and its exposure index in one.
/// `sales_orders_customer (customer_id, status, id)` served the order
/// list's customer and status filter, `sales_orders_exposure` (migration
/// 19) the credit check; a submission changes `status`, so it rewrote an
/// entry of each (~1.2 WAL pages and ~3 page reads apiece in the
/// submission benchmark). The customer index with the exposure's columns
/// after its key serves both: the list searches `(customer_id, status)`
/// in id order as before, and the credit check reads the customer's
/// entries from the index alone.
const V22_CUSTOMER_EXPOSURE_INDEX: &[&str] = &[
    "CREATE INDEX sales_orders_customer_exposure
        ON sales_orders (customer_id, status, id, currency, grand_total, paid_amount)",
    "DROP INDEX sales_orders_exposure",
    "DROP INDEX sales_orders_customer",
];

pub const MIGRATIONS: &[&[&str]] = &[
    V1_CATALOG,
    V2_PRICING,
    V3_AVAILABILITY,
    V4_APPROVALS,
    V5_CAPACITY,
    V6_APPROVAL_MANAGERS,
    V7_ORDERS,
    V8_JOBS,
    V9_QUOTATIONS,
    V10_TEAMS,
    V11_ANALYTICS,
    V12_INTEGRATIONS,
    V13_ANALYTICS_MONTHLY,
    V14_RESERVATION_TOTALS,
    V15_FUNNEL_BY_STATUS,
    V16_SHOPS_AND_REFERENCES,
    V17_PRICING_DATA_VERSION,
    V18_OUTBOX_DRAIN,
    V19_EXPOSURE_INDEX,
    V20_HOLD_ROWS_WITHOUT_POSITION_INDEX,
    V21_OUTBOX_QUEUE_INDEX,
    V22_CUSTOMER_EXPOSURE_INDEX,
];

/// The schema version this build writes and expects.
pub fn latest_version() -> i64 {
    // A handful of migrations; the cast cannot truncate.
    MIGRATIONS.len() as i64
}

/// The database's `PRAGMA user_version`.
pub fn schema_version(db: &impl Db) -> Result<i64, DbError> {
    let rows = db.execute("PRAGMA user_version", &[])?;
    rows.first()
        .ok_or_else(|| DbError::Decode("PRAGMA user_version returned no row".into()))?
        .int("user_version")
}

/// Brings the schema up to [`latest_version`]; see the module docs.
/// A database written by a newer build is [`StoreError::SchemaTooNew`].
pub fn migrate(db: &impl Db) -> Result<(), StoreError> {
    migrate_to(db, MIGRATIONS)
}

/// [`migrate`] with an explicit migration list (tests use it).
pub fn migrate_to(db: &impl Db, migrations: &[&[&str]]) -> Result<(), StoreError> {
    let latest = migrations.len() as i64;
    let current = schema_version(db)?;
    if current == latest {
        return Ok(());
    }
    if current > latest {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    db.transaction(|db| {
        // Re-read under the write lock: another connection may have migrated
        // while this one waited.
        let current = schema_version(db)?;
        if current > latest {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: latest,
            });
        }
        let start = usize::try_from(current).unwrap_or(0);
        for statements in migrations.iter().skip(start) {
            for sql in statements.iter() {
                db.execute(sql, &[])?;
            }
        }
        // PRAGMA takes no bound parameters; `latest` is our own integer.
        db.execute(&format!("PRAGMA user_version = {latest}"), &[])?;
        Ok(())
    })
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::*;
    use crate::rusqlite_db::RusqliteDb;

    #[test]
    fn a_fresh_database_migrates_to_the_latest_version() {
        let db = RusqliteDb::open_in_memory().unwrap();
        assert_eq!(schema_version(&db).unwrap(), 0);
        migrate(&db).unwrap();
        assert_eq!(schema_version(&db).unwrap(), latest_version());
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let db = RusqliteDb::open_in_memory().unwrap();
        migrate(&db).unwrap();
        migrate(&db).unwrap();
        let rows = db
            .execute("SELECT count(*) AS n FROM settings", &[])
            .unwrap();
        assert_eq!(rows.first().unwrap().int("n").unwrap(), 1);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let db = RusqliteDb::open_in_memory().unwrap();
        db.execute("PRAGMA user_version = 999", &[]).unwrap();
        assert!(matches!(
            migrate(&db),
            Err(StoreError::SchemaTooNew { found: 999, .. })
        ));
    }

    #[test]
    fn a_failing_migration_leaves_the_schema_untouched() {
        let db = RusqliteDb::open_in_memory().unwrap();
        let bad: &[&[&str]] = &[&["CREATE TABLE a (x INTEGER)", "CREATE TABLE oops ("]];
        assert!(migrate_to(&db, bad).is_err());
        assert_eq!(schema_version(&db).unwrap(), 0);
        let rows = db
            .execute(
                "SELECT count(*) AS n FROM sqlite_master WHERE name = 'a'",
                &[],
            )
            .unwrap();
        assert_eq!(rows.first().unwrap().int("n").unwrap(), 0);
    }

    #[test]
    fn later_migrations_apply_on_top_of_earlier_ones() {
        let db = RusqliteDb::open_in_memory().unwrap();
        let v1: &[&[&str]] = &[&["CREATE TABLE a (x INTEGER)"]];
        let v2: &[&[&str]] = &[
            &["CREATE TABLE a (x INTEGER)"],
            &["ALTER TABLE a ADD COLUMN y TEXT"],
        ];
        migrate_to(&db, v1).unwrap();
        migrate_to(&db, v2).unwrap();
        assert_eq!(schema_version(&db).unwrap(), 2);
        db.execute("INSERT INTO a (x, y) VALUES (1, 'y')", &[])
            .unwrap();
    }
}
