"""Where things live. The course is used from its checkout (``pip install -e .``), so data sits beside the package."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = DATA_DIR / "models"
IMAGES_DIR = REPO_ROOT / "images"
LESSONS_DIR = REPO_ROOT / "lessons"
