// Watching a folder.
