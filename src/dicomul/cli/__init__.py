"""The command line: ``dicomul COMMAND ...`` or ``python -m dicomul COMMAND ...``
(:mod:`dicomul.cli.commands`)."""
