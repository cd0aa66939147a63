"""How CLI commands fail: one line on stderr and an exit code, never a traceback."""

EXIT_REJECTED_ROWS = 1  # some rows were rejected; the valid ones were processed
EXIT_BAD_INPUT = 2  # the input (or the request) cannot be used at all


class CliError(Exception):
    """`message` goes to stderr as one line; `report`, if any, to stdout before it (a
    command that processed the valid rows still reports what it did)."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT, report: str = ""):
        super().__init__(message)
        self.code = code
        self.report = report
