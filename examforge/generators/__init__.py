"""Question types, one per unit. Every module here is imported by the registry, and each type
registers itself with @register (see examforge.question for the contract)."""
