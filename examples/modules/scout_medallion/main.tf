# The seed's scout medallion: raw POS transactions land in bronze as JSONB, are validated
# into silver, summarised monthly in gold (a view, so always current) and exposed to retrieval
# in platinum.

locals {
  # Each category quoted as a SQL literal (single quotes doubled) for the CHECK rule.
  categories_sql = join(", ", [for c in var.allowed_categories : "'${replace(c, "'", "''")}'"])
}

resource "ipai_medallion_layer" "bronze" {
  workbench           = var.workbench
  layer               = "bronze"
  schema              = var.schema
  retention_days      = 90
  deletion_protection = var.deletion_protection
  force_destroy       = var.force_destroy
  comment             = "Raw transactions as received from the POS feeds."

  # No columns: the raw ingestion columns id, source, payload (jsonb), batch_id, ingested_at.
  tables = [
    { name = "bronze_transactions", comment = "Raw POS transactions, one JSON payload per row." },
  ]
}

resource "ipai_medallion_layer" "silver" {
  workbench           = var.workbench
  layer               = "silver"
  schema              = var.schema
  retention_days      = 730
  deletion_protection = var.deletion_protection
  force_destroy       = var.force_destroy

  tables = [{
    name    = "silver_validated_transactions"
    comment = "Transactions that passed validation."
    columns = [
      { name = "transaction_id", type = "text", nullable = false },
      { name = "bronze_id", type = "uuid", nullable = false },
      { name = "store_id", type = "text", nullable = false },
      { name = "category", type = "text", nullable = false },
      { name = "amount", type = "numeric(12,2)", nullable = false },
      { name = "txn_date", type = "date", nullable = false },
      { name = "validated_at", type = "timestamptz", nullable = false, default = "now()" },
    ]
    # The unique transaction id.
    primary_key = ["transaction_id"]
    unique      = [["bronze_id"]]
    checks = [
      { name = "amount_positive", expression = "amount > 0" },
      { name = "date_not_future", expression = "txn_date <= current_date" },
      { name = "category_allowed", expression = "category in (${local.categories_sql})" },
    ]
    indexes          = [{ columns = ["txn_date"] }, { columns = ["store_id", "txn_date"] }]
    retention_column = "validated_at"
  }]

  depends_on = [ipai_medallion_layer.bronze]
}

resource "ipai_medallion_layer" "gold" {
  workbench           = var.workbench
  layer               = "gold"
  schema              = var.schema
  deletion_protection = var.deletion_protection
  force_destroy       = var.force_destroy

  # A view rather than a table: nothing has to refresh it, and it reads silver with the
  # caller's rights (security_invoker), so silver's row-level security still applies.
  views = [{
    name    = "gold_monthly_summary"
    comment = "Monthly totals per store and category, with growth over the previous calendar month."
    query   = <<-SQL
      with monthly as (
        select date_trunc('month', txn_date)::date as month, store_id, category,
               sum(amount) as total_amount, count(*) as transaction_count
        from silver_validated_transactions
        group by 1, 2, 3
      )
      select m.month, m.store_id, m.category, m.total_amount, m.transaction_count,
             p.total_amount as previous_amount,
             round(100 * (m.total_amount - p.total_amount) / nullif(p.total_amount, 0), 2) as growth_pct
      from monthly as m
      left join monthly as p
        on p.store_id = m.store_id and p.category = m.category
       and p.month = (m.month - interval '1 month')::date
    SQL
  }]

  depends_on = [ipai_medallion_layer.silver]
}

resource "ipai_medallion_layer" "platinum" {
  workbench           = var.workbench
  layer               = "platinum"
  schema              = var.schema
  deletion_protection = var.deletion_protection
  force_destroy       = var.force_destroy

  views = [{
    name    = "platinum_transaction_embeddings"
    comment = "Text to embed for retrieval, one document per validated transaction."
    query   = <<-SQL
      select t.transaction_id as id,
             concat_ws(' ', 'store', t.store_id, 'category', t.category, 'amount', t.amount::text, 'on', t.txn_date::text) as content,
             jsonb_build_object('store_id', t.store_id, 'category', t.category, 'txn_date', t.txn_date) as metadata
      from silver_validated_transactions as t
    SQL
  }]

  depends_on = [ipai_medallion_layer.gold]
}
