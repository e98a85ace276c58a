"""What the whole stack shares and nothing declares: settings, schema, platform catalog, naming, labels, IAM shapes."""
