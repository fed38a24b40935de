"""The gateway: an OpenAI-compatible routing gateway for Amazon Bedrock."""
