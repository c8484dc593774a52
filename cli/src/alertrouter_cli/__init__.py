"""alertrouter: the SRE command line."""
