import sys

from tools.doctor.runner import main

sys.exit(main())
