// HarkCLI
