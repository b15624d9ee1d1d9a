/* keeps the support library non-empty */
typedef int chaoslab_testsupport_empty;
