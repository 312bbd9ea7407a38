/* replaced by the service main; exists so the tree configures */
int main (void) { return 1; }
