"""rag/integrations"""
