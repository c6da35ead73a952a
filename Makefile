.PHONY: demo test sanity lint tools bootstrap

# The main job: a local demo of the seed's whole flow on embedded defaults.
demo:
	scripts/demo

# Every test and quality gate, exactly as CI runs it.
test:
	scripts/test

bootstrap:
	scripts/bootstrap

tools: bootstrap
	scripts/build-tools

sanity: bootstrap
	scripts/sanity

lint: bootstrap
	scripts/lint
