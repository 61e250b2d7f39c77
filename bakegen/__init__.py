"""bakegen: docker-bake.hcl for cached multi-image monorepo builds."""
