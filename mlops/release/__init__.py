"""Release tooling: the images and artifacts the kit ships, and the commands CI runs to promote them."""
