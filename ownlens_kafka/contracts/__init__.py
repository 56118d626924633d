"""Stream contracts: JSON Schema and AsyncAPI documents derived from the stream table, and the
breaking-change gate that compares the models with the committed documents."""
