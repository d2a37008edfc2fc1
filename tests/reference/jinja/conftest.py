import sys
from pathlib import Path

# The helpers next to these tests (hf_reference, jinja_driver, ...) import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
