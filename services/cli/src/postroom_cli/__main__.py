"""`python -m postroom_cli`: the same as the `postroom` console script."""

from postroom_cli.main import main

if __name__ == "__main__":
    main()
