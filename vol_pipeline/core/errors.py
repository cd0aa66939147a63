"""Errors the pure layer raises for bad input; the CLI prints them as one line."""


class BadInputError(ValueError):
    """Input that cannot be used at all (unreadable file, missing column, wrong type).

    The message names what is wrong: the file or column, the check, and an example.
    """
