"""Model definitions: experts (safely parsed formulas), gates, the catalog."""
