"""``python -m dicomul``: the dicomul command line."""

from dicomul.cli import main

raise SystemExit(main())
