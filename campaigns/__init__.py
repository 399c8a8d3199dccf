"""Teams, campaigns, ads and the uploaded reaction photos with their detected faces."""
