"""Shipped simulation setups (TOML): `identify.numeric.truth.load_preset(name)`."""
