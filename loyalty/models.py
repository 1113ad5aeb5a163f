"""Models of this app arrive with its issue; the app is installed so its schema is ready."""
