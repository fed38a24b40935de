"""Translation layer (pure): OpenAI requests to Bedrock Converse and back."""
