"""Everything that talks to a Docker engine or buildx."""
