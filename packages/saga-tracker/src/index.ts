export const PACKAGE_NAME = '@troupe/saga-tracker';
