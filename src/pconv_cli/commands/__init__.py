"""The commands: one module each, holding its Typer signature, its options and its command()."""
