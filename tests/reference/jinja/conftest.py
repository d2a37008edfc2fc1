import os
import sys
import time
from pathlib import Path

# Both renderers see the same wall clock zone for strftime_now.
os.environ["TZ"] = "UTC"
time.tzset()
sys.path.insert(0, str(Path(__file__).resolve().parent))
