"""The thin web layer: parse, call `checker`, store, answer."""
