import os
import sys

from .cli import main

try:
    code = main()
except BrokenPipeError:  # output piped into `head` and closed early: not an error
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
