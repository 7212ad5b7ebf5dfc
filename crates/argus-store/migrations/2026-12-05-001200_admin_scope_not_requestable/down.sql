-- Nothing to undo: the scope is not given back to apps that lost it.
SELECT 1;
