"""What the gap engine's dashboards show: domain results laid out as tables and charts (no figure is
computed here; every number comes from the domain functions the JSON API serves)."""
