"""Who is asking: verified bearer tokens, the Viewer they name, development tokens."""
