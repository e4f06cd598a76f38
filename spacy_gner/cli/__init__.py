"""``python -m spacy_gner …``: one typer app, one module per command."""
import typer

app = typer.Typer(name="spacy_gner", help="spacy-gner command-line tools", no_args_is_help=True)

# Each command module registers itself on ``app`` when imported.
COMMAND_MODULES = ("convert", "evaluate", "package", "augment", "tiny_model", "score", "annotate")


def register_commands() -> typer.Typer:
    """Import every command module (each adds its command to ``app``); returns ``app``."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return app


def setup_cli() -> None:
    register_commands()()
