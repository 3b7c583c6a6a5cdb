"""Security: record signing and key stores, ACLs, client credentials, and their commands."""
