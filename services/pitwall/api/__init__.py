"""The API process: REST, live push to browsers, the web app, captive-portal probes."""
