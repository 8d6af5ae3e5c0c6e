"""Reading a user's files: tables, Excel, headers, item rows, YAML."""
