"""Guards at the edge of the app: request body limits, websocket origins, sign-in throttling,
and no caching of pages that show conversations."""
