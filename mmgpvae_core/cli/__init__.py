"""``mmgpvae``: the headless command line (simulate, fit, export-latents, score, inspect, figures,
sweep, compare, null-test, consistency), one module per group of subcommands.

Exit codes: 0 success, 1 training failed, 2 bad input (the message names file and field),
130 interrupted (Ctrl+C or SIGTERM; the project holds the last completed epoch).
"""

from __future__ import annotations

import argparse
import sys

from mmgpvae_core.cli import compare, controls, data, fit, results, selection
from mmgpvae_core.cli.common import EXIT_BAD_INPUT, data_warnings_as_lines, fail
from mmgpvae_core.config import ConfigError
from mmgpvae_core.data import DataError

__all__ = ["EXIT_BAD_INPUT", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmgpvae",
        description="Fit multi-modal GP-VAEs to paired neural and behavioral recordings.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.add_simulate_parser(sub)
    fit.add_parser(sub)
    results.add_export_parser(sub)
    results.add_score_parser(sub)
    data.add_inspect_parser(sub)
    results.add_figures_parser(sub)
    selection.add_parser(sub)
    compare.add_parser(sub)
    controls.add_null_test_parser(sub)
    controls.add_consistency_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit codes as in the module docstring, 141 when the reader of stdout
    left early (``mmgpvae inspect FILE | head``)."""
    args = build_parser().parse_args(argv)
    try:
        with data_warnings_as_lines():
            code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that has gone shows here, not in the interpreter's exit
        return code
    except (DataError, ConfigError) as exc:
        return fail(str(exc))
    except BrokenPipeError:
        # Python's recipe for SIGPIPE: point stdout at devnull so the flush at exit is quiet,
        # and answer 128 + SIGPIPE as a shell does for a writer whose reader left.
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured in a test)
            pass
        return 141
    except OSError as exc:  # a file that cannot be written or read: a message, not a traceback
        return fail(f"{getattr(exc, 'filename', None) or '-'}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
