"""Drafting: the recruiter's templates, rendered in a sandbox, with short AI-written parts.

``drafter`` turns a candidate (and a role file or interview notes, ``inputs``) into a draft in
the review queue: ``templates`` renders in Jinja2's sandbox under ``limits``, with the values of
``context``; ``prompts`` and ``llm`` fill the AI slots; ``grounding`` (with its ``lexicon``)
flags what the model wrote that the sources do not say.
"""
