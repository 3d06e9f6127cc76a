"""The query builder (自由组合查询), saved and shared queries, and data-quality rules (数据质量)."""
