"""What an observation says about the activity: app, kind of app, title family, site, files.

Shared by segment (what counts as the same activity), screen (apps where
the user is doing, not viewing) and stats (projects and files), so the
three agree on what a title or a path means.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath

from tacitd.memory.types import Observation
from tacitd.observers.privacy import host_of

EDITORS = frozenset({
    "code", "vscode", "code-oss", "codium", "vscodium", "cursor", "zed", "pycharm", "idea", "clion", "goland",
    "webstorm", "rustrover", "android-studio", "vim", "nvim", "gvim", "emacs", "sublime_text", "sublime text",
    "gedit", "kate", "xcode", "notepad++", "helix", "jupyter", "jupyterlab", "rstudio", "obsidian", "typora",
    "libreoffice", "soffice", "winword", "word", "excel", "powerpoint", "pages", "numbers", "keynote",
    "texstudio", "overleaf", "inkscape", "gimp", "blender", "figma",
})
TERMINALS = frozenset({
    "kitty", "alacritty", "gnome-terminal", "gnome-terminal-server", "konsole", "xterm", "urxvt", "terminator",
    "tilix", "wezterm", "wezterm-gui", "foot", "iterm2", "terminal", "windowsterminal", "cmd", "powershell",
    "ghostty",
})
# Sites where the user writes rather than reads: text on them is the user's own work.
EDITING_HOSTS = ("docs.google.com", "notion.so", "www.notion.so", "overleaf.com", "www.overleaf.com",
                 "github.com", "gitlab.com", "figma.com", "www.figma.com", "colab.research.google.com",
                 "replit.com", "codepen.io")
# Window-manager suffixes that name the app, not the activity.
APP_SUFFIXES = frozenset({
    "mozilla firefox", "firefox", "google chrome", "chromium", "brave", "microsoft edge", "safari",
    "visual studio code", "code - oss", "vscodium", "sublime text", "thunderbird", "libreoffice writer",
    "libreoffice calc", "microsoft word", "microsoft excel", "gnu emacs", "vim", "nvim", "jupyterlab",
})
TITLE_SEPARATORS = re.compile(r"\s+[—–\-|·•:]\s+")
FILE_NAME = re.compile(r"^[\w.\-]+\.[A-Za-z][A-Za-z0-9]{0,5}$")
# Folders that hold projects: the folder below one of these is the project.
PROJECT_CONTAINERS = frozenset({
    "projects", "project", "src", "code", "repos", "repositories", "git", "github", "work", "dev", "workspace",
    "workspaces", "documents", "notebooks", "thesis", "papers",
})
NOT_PROJECTS = frozenset({"downloads", "desktop", "pictures", "music", "videos", "public", "templates", "tmp",
                          "snap", "library", "applications"})


def app_name(observation: Observation) -> str:
    """The app, lower-cased and trimmed; '' when unknown."""
    return (observation.app or "").strip().lower()


def is_doing_app(app: str) -> bool:
    """Editors, IDEs, office apps and terminals: text shown there is the user's own work."""
    return app in EDITORS or app in TERMINALS


def site(url: str | None) -> str:
    """The host of a URL without `www.`; '' when there is none."""
    return host_of(url).removeprefix("www.")


def title_parts(app: str, title: str | None) -> list[str]:
    """The title split at its separators, without the parts that only name the app."""
    parts = [p.strip() for p in TITLE_SEPARATORS.split(title or "") if p.strip()]
    return [p for p in parts if p.lower() not in APP_SUFFIXES and p.lower() != app]


def _normalise(text: str) -> str:
    """Counts and numbers change while the activity does not: 'Inbox (3)' and 'Inbox (4)' are one."""
    return " ".join(re.sub(r"\d+", "#", text.lower()).split())


def title_family(observation: Observation) -> str:
    """What stays the same while the user stays on one activity within an app.

    The site for a page with a URL; otherwise the last part of a title with
    several ('train.py — finetune' → 'finetune', a project; 'LoRA — PEFT
    documentation' → the site's name). A one-part title (a file name, a
    terminal's command) changes too often to say anything: the app alone
    is then the activity.
    """
    if host := site(observation.url):
        return host
    parts = title_parts(app_name(observation), observation.window_title)
    return _normalise(parts[-1]) if len(parts) >= 2 else ""


def file_in_title(observation: Observation) -> str | None:
    """The file an editor's title names first ('train_lora.py — finetune' → 'train_lora.py')."""
    app = app_name(observation)
    if app not in EDITORS:
        return None
    parts = title_parts(app, observation.window_title)
    name = parts[0].lstrip("●* ").strip() if parts else ""
    return name if FILE_NAME.match(name) else None


def path_of(observation: Observation) -> str | None:
    """The file path a files observation carries (never content)."""
    path = observation.meta.get("path")
    return path if isinstance(path, str) and path else None


def project_of_path(path: str) -> str | None:
    """The project folder in a path.

    The folder below a container such as ~/projects or ~/src; else the
    folder right below the home folder (~/tacit/memory/store.py → tacit),
    unless it is one that holds everything (Downloads, Desktop) or a hidden
    one; else the file's own folder. None when only the home folder or the
    root is left, which say nothing.
    """
    pure = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    folders = [f for f in pure.parts[:-1] if f not in ("/", "\\") and not f.endswith(":\\")]
    for i, name in enumerate(folders[:-1]):
        if name.lower() in PROJECT_CONTAINERS:
            return folders[i + 1]
    if folders and folders[0].lower() in ("home", "users"):
        below_home = folders[2] if len(folders) >= 3 else "."
        if below_home.startswith(".") or below_home.lower() in NOT_PROJECTS:
            return None
        return below_home
    return folders[-1] if folders and folders[-1].lower() not in ("home", "users", "tmp") else None


def project_in_title(observation: Observation) -> str | None:
    """An editor's or IDE's project, from its title ('train.py — finetune — Visual Studio Code')."""
    app = app_name(observation)
    if app not in EDITORS:
        return None
    parts = title_parts(app, observation.window_title)
    return parts[-1] if len(parts) >= 2 else None
