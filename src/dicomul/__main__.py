"""``python -m dicomul``: the dicomul command line."""

from dicomul.cli.commands import main

if __name__ == "__main__":  # not when multiprocessing (spawn) imports it as __mp_main__
    raise SystemExit(main())
