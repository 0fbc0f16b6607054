"""The built-in question bank: a question folder like any instructor's (see examforge.registry).

One module per topic (`conv.py`, or `conv_<name>.py` for a type of its own), each type's two
templates in `<type id>/`, and authored questions (YAML) under `authored/`."""
