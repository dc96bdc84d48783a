"""``python -m dicomul``: the dicomul command line."""

from dicomul.cli.commands import main

raise SystemExit(main())
