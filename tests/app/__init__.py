"""The monorepo's applications tested from pytest: the web app in a real browser, the Node parts'
own test runner and the Vite build. (The pose service's tests live beside it, in pose-service/tests,
as backend/test and web/test do; the tool's own tests are tests/*.)"""
