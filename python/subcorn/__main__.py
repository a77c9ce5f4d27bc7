import sys

from subcorn.cli import main

sys.exit(main())
