"""The review loop: judge a sample of the feed in the browser, import and export judgments."""
